/// The fix for subflows that leave by the wrong interface, or by none: source
/// routing, made by mptcpctld (`[routing]`) or by hand (a rule from the address
/// to a table of its own holding a default route through its interface).
public enum SourceRoutingFix {
    /// The table a hand-made fix should use: the lowest from 100 that holds no
    /// (unicast) route and that no rule looks up (a table of only blackhole routes
    /// is still named by its rule).
    public static func freeTable(_ network: NetworkSnapshot) -> UInt32 {
        let used = Set(network.routes.map(\.table)).union(network.rules.map(\.table))
        var table: UInt32 = 100
        while used.contains(table) { table += 1 }
        return table
    }

    /// A router of interface `index` for `family`, as the host's routes know it (a
    /// default route through it in any table), else nil.
    public static func gateway(of index: Int32, ipv6: Bool, _ network: NetworkSnapshot) -> IPAddress? {
        network.routes.first { $0.isDefault && $0.outputInterface == index && $0.gateway != nil
            && ($0.family == 10) == ipv6 }?.gateway
    }

    /// The fix text, in the words of the daemon that runs (or does not).
    public static func text(address: IPAddress, interface index: Int32, network: NetworkSnapshot,
                            plane: ControlPlaneFacts, fix: FixCommands) -> String {
        let ipv6 = !address.isIPv4
        let name = network.link(index)?.name ?? "if\(index)"
        let table = freeTable(network)
        let known = gateway(of: index, ipv6: ipv6, network)
        let byHand = "by hand: " + fix.ip("rule add from \(address) lookup \(table)", ipv6: ipv6) + " && "
            + fix.ip("route add default via \(known?.description ?? "GATEWAY") dev \(name) table \(table)", ipv6: ipv6)
            + (known == nil ? " (GATEWAY: \(name)'s router; none is known here)" : "")
            + (hasSuppressRule(ipv6: ipv6, network) ? "" : " && " + fix.ip("rule add from all lookup main suppress_prefixlength 0", ipv6: ipv6)
                + " (added last, the kernel puts it before the source rule: subnets main reaches through other interfaces, "
                + "a docker bridge or a LAN route, keep main's route)")
        let gatewayKey = "gateway = \"…\" in the [[interface]] block of \(name)"
        if plane.routesSources {
            let next = known == nil ? "set \(gatewayKey) and run " + fix.mptcpctl("reload") : "see " + fix.mptcpctl("plan")
            let said = plane.routingNotes.filter { $0.contains(name) }.map { " (it says: \($0))" }.joined()
            return "mptcpctld's [routing] is on but made no route for \(address)\(said): \(next); or \(byHand)"
        }
        if plane.answers {
            return "set [routing] mode = \"on\"" + (known == nil ? " and \(gatewayKey)" : "") + " in mptcpctld's policy and run "
                + fix.mptcpctl("reload") + "; or \(byHand)"
        }
        return "run mptcpctld ([routing] is on by default" + (known == nil ? "; with \(gatewayKey)" : "") + "), or \(byHand)"
    }

    /// Whether a rule already passes over main's default route for the family
    /// (mptcpctld's, wg-quick's or one made by hand): a second is not needed.
    public static func hasSuppressRule(ipv6: Bool, _ network: NetworkSnapshot) -> Bool {
        network.rules.contains { $0.source == nil && $0.table == RoutingRule.mainTable && $0.suppressPrefixLength == 0
            && ($0.family == 10) == ipv6 }
    }
}
