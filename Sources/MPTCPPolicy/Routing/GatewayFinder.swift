import MPTCPKit

/// Where an interface's default route in its source-routing table leads: the
/// system's own routes first (they follow DHCP, RA and the admin), the
/// policy's `gateway` only when the system names none.
enum GatewayFinder {
    /// A next hop and where it was found ("the default route on eth1 in table main, metric 100");
    /// no address for a point-to-point link whose default route names only the device (`default dev ppp0`).
    struct Found: Hashable, Sendable {
        var address: IPAddress?
        var origin: String
    }

    static func gateway(for m: ManagedInterface, family: AddressFamily, network: NetworkSnapshot) -> Found? {
        let kernelFamily = family == .ipv4 ? kernelFamilyIPv4 : kernelFamilyIPv6
        // Routes another program made on this interface that go through a router.
        let candidates = network.routes.filter {
            // The gateway's own family too: an IPv4 route via an IPv6 next hop (RTA_VIA,
            // BGP unnumbered) cannot be copied as an IPv4 gateway.
            $0.family == kernelFamily && $0.outputInterface == m.index && !$0.isOurs && $0.gateway?.family == kernelFamily
                && $0.type == Route.typeUnicast
        }
        // A default route in any table with any metric: the main table's first, then the lowest metric.
        let defaults = candidates.filter(\.isDefault).sorted {
            ($0.table != Route.tableMain ? 1 : 0, $0.metric ?? 0, $0.table) < ($1.table != Route.tableMain ? 1 : 0, $1.metric ?? 0, $1.table)
        }
        if let d = defaults.first, let g = d.gateway {
            return Found(address: g, origin: "from the default route on \(m.name) in table \(tableName(d.table))"
                + (d.metric.map { ", metric \($0)" } ?? ""))
        }
        // A point-to-point link (PPP, a cellular modem, a tunnel): its default route names the device alone.
        if let d = network.routes.first(where: {
            $0.family == kernelFamily && $0.outputInterface == m.index && !$0.isOurs && $0.isDefault && $0.gateway == nil
                && $0.type == Route.typeUnicast
        }) {
            return Found(address: nil, origin: "as the default route on \(m.name) in table \(tableName(d.table)), which names no router")
        }
        // A router on the link that some other route uses.
        let routers = candidates.sorted {
            ($0.metric ?? 0, $0.destinationPrefixLength, $0.table) < ($1.metric ?? 0, $1.destinationPrefixLength, $1.table)
        }
        if let r = routers.first, let g = r.gateway {
            return Found(address: g, origin: "the router of \(r.summary(network)), on \(m.name)'s link")
        }
        if let g = m.rule.gateways.first(where: { policyFamily($0) == family }) {
            return Found(address: g, origin: "gateway in \(m.rule.label)")
        }
        return nil
    }

    /// Why `family` on `m` gets no default route, and the key that fixes it.
    static func missing(_ m: ManagedInterface, family: AddressFamily) -> RoutingNote {
        let sources = m.addresses.filter { policyFamily($0.address) == family }.map(\.address.description).joined(separator: ", ")
        let key = "interface[\(m.rule.position)].gateway"
        let label = family == .ipv4 ? "IPv4" : "IPv6"
        return RoutingNote(
            interface: m.name, family: family, key: key,
            message: "\(m.name) (\(label)): no gateway known — no \(label) default route leaves by \(m.name) in any table and no "
                + "router is known on its link, so subflows from \(sources) reach only \(m.name)'s own link; "
                + "set gateway = \"…\" in its [[interface]] block (\(key))")
    }

    static func tableName(_ table: UInt32) -> String {
        switch table {
        case Route.tableMain: return "main"
        case 253: return "default"
        case Route.tableLocal: return "local"
        default: return String(table)
        }
    }
}
