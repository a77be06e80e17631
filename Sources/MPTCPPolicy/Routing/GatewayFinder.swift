import MPTCPKit

/// Where an interface's default route in its source-routing table leads: the
/// system's own routes first (they follow DHCP, RA and the admin), the
/// policy's `gateway` only when the system names none. A gateway no connected
/// route reaches (a cloud host's /32 address) is taken as on-link, as the
/// system's own route says (`onlink`) or, for the policy's, as found here.
enum GatewayFinder {
    /// A next hop and where it was found ("the default route on eth1 in table main, metric 100");
    /// no address for a point-to-point link whose default route names only the device (`default dev ppp0`).
    struct Found: Hashable, Sendable {
        var address: IPAddress?
        var origin: String
        /// The route goes `onlink`: the kernel would refuse the gateway otherwise (no connected route holds it).
        var onLink = false
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
                + (d.metric.map { ", metric \($0)" } ?? "") + (d.onLink ? ", onlink" : ""), onLink: d.onLink)
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
            return Found(address: g, origin: "the router of \(r.summary(network)), on \(m.name)'s link", onLink: r.onLink)
        }
        if let g = m.rule.gateways.first(where: { policyFamily($0) == family }) {
            guard needsOnLink(g, on: m, network: network) else { return Found(address: g, origin: "gateway in \(m.rule.label)") }
            return Found(address: g, origin: "gateway in \(m.rule.label); onlink, as no prefix on \(m.name) holds \(g)", onLink: true)
        }
        return nil
    }

    /// Whether the kernel would refuse `gateway` on `m` without `onlink`: no
    /// prefix of `m`'s addresses and no route on its link (any table) holds it,
    /// as on a cloud host whose address is a /32. An IPv6 link-local gateway is
    /// on every link (fe80::/64) and needs no flag.
    static func needsOnLink(_ gateway: IPAddress, on m: ManagedInterface, network: NetworkSnapshot) -> Bool {
        if gateway.isIPv6LinkLocal { return false }
        func holds(_ prefix: IPAddress, _ length: UInt8) -> Bool {
            prefix.family == gateway.family && gateway.masked(to: length) == prefix.masked(to: length)
        }
        // An address's own prefix (a /32 holds only the address itself), or a route on the link (`10.9.0.1 dev eth0`).
        let byAddress = network.addresses.contains {
            $0.interfaceIndex == m.index && $0.prefixLength < $0.address.fullPrefixLength && holds($0.address, $0.prefixLength)
        }
        let byRoute = network.routes.contains { r in
            r.outputInterface == m.index && r.gateway == nil && !r.isDefault && !r.isOurs && r.type == Route.typeUnicast
                && r.destination.map { holds($0, r.destinationPrefixLength) } == true
        }
        return !byAddress && !byRoute
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
