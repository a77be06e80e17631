import MPTCPKit

/// The path a new connection starts on. Its first SYN has no source yet, so no
/// source rule matches it: it leaves by main's default route (the lowest-metric
/// one of its family), and no path manager can act before the connection
/// exists. While the path holding that route is `down`, the daemon adds one
/// rule of its own per family, `from all lookup TABLE priority LAST`, where
/// TABLE is the source-routing table of a usable managed path of the family
/// (one that has a default route there) and LAST the last priority of
/// `routing.priorities`, reserved for it (`SlotAllocation`): after the suppress
/// rule (main's specific routes keep deciding first) and after every source
/// rule (bound traffic, subflows and probes of the down path included, keeps
/// its own table), before main's rule at 32766. Unbound traffic then leaves by
/// the healthy uplink, and a new connection starts there (the kernel picks the
/// source from that route). When the path heals the rule is no longer wanted and
/// goes: routing is exactly as before. Main's routes are never touched, and the
/// down path's own rules and routes stay (its probes, and its healing, need them).
enum InitialPath {
    /// The rules to add (at most one per family) with their reasons, and what cannot be done.
    struct Outcome {
        var rules: [(rule: RoutingRule, reason: String)] = []
        var notes: [RoutingNote] = []
    }

    /// - Parameters:
    ///   - interfaces: the managed interfaces, in the endpoint planner's order (the first usable one is taken).
    ///   - slots: their tables; nil with `[routing] mode = "off"`: only notes then say what would be done.
    ///   - priority: the priority reserved for the rule; nil when not free.
    static func plan(_ interfaces: [ManagedInterface], slots: [String: RoutingSlot]?, priority: UInt32?,
                     network: NetworkSnapshot, health: PathHealthView) -> Outcome {
        var outcome = Outcome()
        for family in [AddressFamily.ipv4, .ipv6] {
            guard let holder = mainDefault(family, network: network) else { continue }
            let key = PathKey(interface: holder.name, family: family)
            guard health.state(of: key) == .down else { continue }
            let evidence = health.paths[key].map { $0.evidence.isEmpty ? "" : " (\($0.evidence))" } ?? ""
            let down = "\(key) holds main's default route (\(holder.route.summary(network))) and is down\(evidence)"
            // Healthy paths first, then degraded ones (they still carry packets); never a down one.
            let others = interfaces.filter { m in
                m.name != holder.name && m.addresses.contains { policyFamily($0.address) == family }
                    && health.state(of: PathKey(interface: m.name, family: family)) != .down
            }
            let ranked = others.filter { health.state(of: PathKey(interface: $0.name, family: family)).isUsable }
                + others.filter { !health.state(of: PathKey(interface: $0.name, family: family)).isUsable }
            let ways = ranked.compactMap { m in GatewayFinder.gateway(for: m, family: family, network: network).map { (m, $0) } }
            guard let (m, gateway) = ways.first(where: { slots == nil || slots?[$0.0.name] != nil }) else {
                outcome.notes.append(RoutingNote(
                    interface: holder.name, family: family,
                    message: "\(down): no other \(family.rawValue) path has a source-routing table with a default route "
                        + "(a usable managed interface with a known gateway), so new connections keep starting on \(holder.name)"))
                continue
            }
            let via = gateway.address.map { "via \($0)" } ?? "on the link"
            guard let slots, let slot = slots[m.name] else {
                outcome.notes.append(RoutingNote(
                    interface: holder.name, family: family, key: "routing.mode",
                    message: "\(down); [routing] mode = \"off\": with mode = \"on\", new connections would start on \(m.name) "
                        + "(a rule from all lookup \(m.name)'s table, default \(via), after the source rules) until it heals"))
                continue
            }
            guard let priority else {
                outcome.notes.append(RoutingNote(
                    interface: holder.name, family: family, key: "routing.priorities",
                    message: "\(down): the last priority of routing.priorities, which the rule sending new connections to "
                        + "\(m.name) needs, is taken; new connections keep starting on \(holder.name) — widen the range"))
                continue
            }
            let rule = RoutingRule(family: family == .ipv4 ? kernelFamilyIPv4 : kernelFamilyIPv6, priority: priority,
                                   source: nil, table: slot.table)
            outcome.rules.append((rule, "\(down): new connections start on \(m.name) (table \(slot.table), default \(via)) "
                + "until it heals; priority \(priority), after the source rules"))
        }
        return outcome
    }

    /// The main table's default route of `family` the kernel uses (the lowest
    /// metric), with its interface's name.
    static func mainDefault(_ family: AddressFamily, network: NetworkSnapshot) -> (route: Route, name: String)? {
        let kernelFamily = family == .ipv4 ? kernelFamilyIPv4 : kernelFamilyIPv6
        let route = network.routes.filter {
            $0.family == kernelFamily && $0.table == Route.tableMain && $0.isDefault && !$0.isOurs && $0.type == Route.typeUnicast
        }.min { ($0.metric ?? 0, $0.outputInterface) < ($1.metric ?? 0, $1.outputInterface) }
        guard let route, let link = network.link(route.outputInterface) else { return nil }
        return (route, link.name)
    }

    /// Whether `rule` is one of these (from all, into a table other than main, no suppress).
    static func isInitialPath(_ rule: RoutingRule) -> Bool {
        rule.source == nil && rule.table != RoutingRule.mainTable && rule.suppressPrefixLength == nil
    }

    /// Why a rule of these goes.
    static func departure(_ rule: RoutingRule, network: NetworkSnapshot, health: PathHealthView) -> String {
        let family: AddressFamily = rule.family == kernelFamilyIPv4 ? .ipv4 : .ipv6
        guard let holder = mainDefault(family, network: network) else {
            return "main has no \(family.rawValue) default route any more: new connections need no other path"
        }
        let key = PathKey(interface: holder.name, family: family)
        let state = health.state(of: key)
        guard state == .down else {
            return "\(key), which holds main's default route, is \(state.rawValue) now: new connections start on it again"
        }
        return "replaced: new connections start on another healthy path now"
    }
}
