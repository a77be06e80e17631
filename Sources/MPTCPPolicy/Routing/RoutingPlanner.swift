import MPTCPKit

/// The routing engine: pure functions from (policy, network, what the daemon
/// owns) to the changes that give every used address its source routing.
/// Only rules and routes mptcpctld made (`RoutingProtocol.mptcpctl`) are ever
/// changed; a marked one the ownership record misses (a crash between the
/// change and the record) is adopted when wanted and removed when not.
public enum RoutingPlanner {
    /// The changes that take the namespace's routing to the policy's.
    /// - Parameters:
    ///   - reversePathFilter: `net.ipv4.conf.IF.rp_filter` of each interface the
    ///     policy manages (and of each in `owned`), with `"all"` for
    ///     `net.ipv4.conf.all.rp_filter`; an interface missing here is left alone.
    ///   - owned: what the daemon recorded as made by it.
    public static func plan(policy: Policy, network: NetworkSnapshot, reversePathFilter: [String: Int],
                            owned: RoutingOwnership) -> RoutingPlan {
        guard policy.routing.mode == .on else {
            return removal(owned: owned, network: network,
                           because: "[routing] mode = \"off\": routing is left to the admin")
        }
        var excluded: [IPAddress: String] = [:]
        let used = Planner.desiredEndpoints(policy: policy, network: network, excluded: &excluded)
        let interfaces = ManagedInterface.from(used, policy: policy, network: network)
        var notes: [RoutingNote] = []
        let slots = SlotAllocation.assign(interfaces, settings: policy.routing, network: network, owned: owned, notes: &notes)
        var wanted = WantedRouting()
        for m in interfaces {
            if let slot = slots[m.name] { wanted.add(m, slot: slot, network: network) }
        }
        notes += wanted.notes
        let why = Departure(interfaces: interfaces, slots: slots, excluded: excluded, network: network, owned: owned)
        var plan = RoutingPlan(notes: notes)
        let rules = reconcileRules(wanted.rules, network: network, why: why)
        let routes = reconcileRoutes(wanted.routes, network: network, why: why)
        let filter = ReversePathFilterPlan.plan(policy: policy, network: network, current: reversePathFilter,
                                                owned: owned.reversePathFilter)
        plan.changes = rules.removals + routes.removals + filter.changes + routes.additions + rules.additions
        plan.ownership = RoutingOwnership(tables: slots.mapValues(\.table), rules: rules.owned.map(OwnedRule.init),
                                          routes: routes.owned.map(OwnedRoute.init), reversePathFilter: filter.record)
        return plan
    }

    /// What giving back everything the daemon made takes (`on_exit = "remove"`):
    /// its rules, then its routes, then the rp_filter values it found.
    public static func removal(owned: RoutingOwnership, network: NetworkSnapshot) -> RoutingPlan {
        removal(owned: owned, network: network, because: "on_exit = \"remove\": giving back what mptcpctld made")
    }

    static func removal(owned: RoutingOwnership, network: NetworkSnapshot, because reason: String) -> RoutingPlan {
        var changes: [RoutingChange] = []
        for rule in network.rules where rule.isOurs {
            changes.append(.removeRule(rule, reason: "\(rule.summary): \(reason)"))
        }
        for route in network.routes.filter(\.isOurs).sorted(by: removalOrder) {
            changes.append(.removeRoute(route, reason: "\(route.summary(network)): \(reason)"))
        }
        for (name, found) in owned.reversePathFilter.sorted(by: { $0.key < $1.key }) where network.links.contains(where: { $0.name == name }) {
            changes.append(.restoreReversePathFilter(interface: name, to: found, reason: "\(name): rp_filter back to the \(found) found; \(reason)"))
        }
        return RoutingPlan(changes: changes, ownership: RoutingOwnership())
    }

    /// Default routes go before the connected routes their gateways were found in.
    static func removalOrder(_ a: Route, _ b: Route) -> Bool {
        (a.isDefault ? 0 : 1, a.table) < (b.isDefault ? 0 : 1, b.table)
    }

    /// The daemon's rules against the wanted ones: what to add, to remove, and
    /// what is owned after (the kernel's copy where one is adopted).
    static func reconcileRules(_ wanted: [(rule: RoutingRule, reason: String)], network: NetworkSnapshot, why: Departure)
        -> (additions: [RoutingChange], removals: [RoutingChange], owned: [RoutingRule]) {
        let present = network.rules.filter(\.isOurs)
        let presentByIdentity = Dictionary(present.map { (RuleIdentity($0), $0) }, uniquingKeysWith: { a, _ in a })
        let wantedIdentities = Set(wanted.map { RuleIdentity($0.rule) })
        var additions: [RoutingChange] = [], removals: [RoutingChange] = [], owned: [RoutingRule] = []
        for rule in present where !wantedIdentities.contains(RuleIdentity(rule)) {
            removals.append(.removeRule(rule, reason: "\(rule.summary): \(why.rule(rule))"))
        }
        var seen: Set<RuleIdentity> = []
        for (rule, reason) in wanted where seen.insert(RuleIdentity(rule)).inserted {
            if let adopted = presentByIdentity[RuleIdentity(rule)] { owned.append(adopted) } else {
                additions.append(.addRule(rule, reason: reason))
                owned.append(rule)
            }
        }
        return (additions, removals, owned)
    }

    /// As `reconcileRules`, for routes.
    static func reconcileRoutes(_ wanted: [(route: Route, reason: String)], network: NetworkSnapshot, why: Departure)
        -> (additions: [RoutingChange], removals: [RoutingChange], owned: [Route]) {
        let present = network.routes.filter(\.isOurs)
        let presentByIdentity = Dictionary(present.map { (RouteIdentity($0), $0) }, uniquingKeysWith: { a, _ in a })
        let wantedIdentities = Set(wanted.map { RouteIdentity($0.route) })
        var additions: [RoutingChange] = [], removals: [RoutingChange] = [], owned: [Route] = []
        for route in present.sorted(by: removalOrder) where !wantedIdentities.contains(RouteIdentity(route)) {
            removals.append(.removeRoute(route, reason: "\(route.summary(network)): \(why.route(route))"))
        }
        var seen: Set<RouteIdentity> = []
        for (route, reason) in wanted where seen.insert(RouteIdentity(route)).inserted {
            if let adopted = presentByIdentity[RouteIdentity(route)] { owned.append(adopted) } else {
                additions.append(.addRoute(route, reason: reason))
                owned.append(route)
            }
        }
        return (additions, removals, owned)
    }
}
