import MPTCPKit

/// The routes and rules the policy wants, each with the reason for it, in the
/// order to add them (an interface's connected routes before its default route,
/// whose gateway the kernel looks up in them).
struct WantedRouting: Sendable {
    var routes: [(route: Route, reason: String)] = []
    var rules: [(rule: RoutingRule, reason: String)] = []
    var notes: [RoutingNote] = []

    /// Adds what `m` needs in `slot`: per family, a connected route per prefix
    /// of a used address, a default route via its gateway, and a rule per used address.
    mutating func add(_ m: ManagedInterface, slot: RoutingSlot, network: NetworkSnapshot) {
        for family in [AddressFamily.ipv4, .ipv6] {
            let addresses = m.addresses.filter { policyFamily($0.address) == family }
            guard !addresses.isEmpty else { continue }
            var prefixes: Set<String> = []
            for a in addresses where a.prefixLength < a.address.fullPrefixLength {
                let prefix = a.address.masked(to: a.prefixLength)
                // One connected route per prefix: two addresses in one prefix share the first's.
                guard prefixes.insert("\(prefix)/\(a.prefixLength)").inserted else { continue }
                let route = Route(family: a.address.family, table: slot.table, destination: prefix,
                                  destinationPrefixLength: a.prefixLength, outputInterface: m.index,
                                  preferredSource: a.address, scope: family == .ipv4 ? Route.scopeLink : Route.scopeUniverse,
                                  routingProtocol: RoutingProtocol.mptcpctl)
                routes.append((route, "\(m.name) \(prefix)/\(a.prefixLength): connected route in table \(slot.table), "
                    + "so subflows from \(a.address) reach \(m.name)'s link"))
            }
            if let gateway = GatewayFinder.gateway(for: m, family: family, network: network) {
                // Without a router the route is on the link itself (scope link, as `ip route add default dev ppp0`).
                let deviceOnly = gateway.address == nil && family == .ipv4
                let route = Route(family: addresses[0].address.family, table: slot.table, destination: nil, destinationPrefixLength: 0,
                                  gateway: gateway.address, outputInterface: m.index,
                                  scope: deviceOnly ? Route.scopeLink : Route.scopeUniverse, routingProtocol: RoutingProtocol.mptcpctl,
                                  onLink: gateway.onLink && gateway.address != nil)
                let via = gateway.address.map { "via \($0)" + (route.onLink ? " onlink" : "") } ?? "on the link"
                routes.append((route, "\(m.name) (\(family == .ipv4 ? "IPv4" : "IPv6")): default route \(via) "
                    + "in table \(slot.table) (\(gateway.origin))"))
            } else {
                notes.append(GatewayFinder.missing(m, family: family))
            }
            for a in addresses {
                let rule = RoutingRule(from: a.address, table: slot.table, priority: slot.priority)
                rules.append((rule, "\(m.name) \(a.address): source route so subflows from it leave by \(m.name) "
                    + "(table \(slot.table), priority \(slot.priority))"))
            }
        }
    }

    /// Puts the suppress rule at `priority` first, for each family that has a
    /// source rule: the source rules capture all traffic from their addresses,
    /// so without it replies to a docker bridge or a LAN route would leave by the uplink.
    mutating func passOverMainDefault(priority: UInt32) {
        for family in [kernelFamilyIPv6, kernelFamilyIPv4] where rules.contains(where: { $0.rule.family == family }) {
            let rule = RoutingRule.mainWithoutDefault(family: family, priority: priority)
            rules.insert((rule, "\(family == kernelFamilyIPv4 ? "IPv4" : "IPv6"): replies to subnets main reaches through other "
                + "interfaces (a docker bridge, a LAN route) keep main's route; only main's default route is passed over "
                + "(priority \(priority), before the source rules)"), at: 0)
        }
    }
}
