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
    ///   - health: the paths' health: while the path holding main's default route
    ///     is down, new connections are sent to a healthy one (`InitialPath`).
    ///     A down path keeps its own rules and routes.
    public static func plan(policy: Policy, network: NetworkSnapshot, reversePathFilter: [String: Int],
                            owned: RoutingOwnership, health: PathHealthView = .none) -> RoutingPlan {
        var excluded: [IPAddress: String] = [:]
        let used = Planner.desiredEndpoints(policy: policy, network: network, excluded: &excluded)
        let interfaces = ManagedInterface.from(used, policy: policy, network: network)
        guard policy.routing.mode == .on else {
            var plan = removal(owned: owned, network: network, because: "[routing] mode = \"off\": routing is left to the admin")
            plan.notes += InitialPath.plan(interfaces, slots: nil, priority: nil, network: network, health: health).notes
            return plan
        }
        guard network.hasPolicyRouting else { return withoutPolicyRouting(owned: owned) }
        var notes: [RoutingNote] = []
        let assignment = SlotAllocation.assign(interfaces, settings: policy.routing, network: network, owned: owned, notes: &notes)
        let slots = assignment.slots
        var wanted = WantedRouting()
        for m in interfaces {
            if let slot = slots[m.name] { wanted.add(m, slot: slot, network: network) }
        }
        if let priority = assignment.suppressPriority { wanted.passOverMainDefault(priority: priority) }
        let initial = InitialPath.plan(interfaces, slots: slots, priority: assignment.initialPathPriority, network: network,
                                       health: health)
        wanted.rules += initial.rules
        notes += wanted.notes + initial.notes
        let why = Departure(interfaces: interfaces, slots: slots, suppressPriority: assignment.suppressPriority,
                            excluded: excluded, network: network, owned: owned, health: health)
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
        for rule in rulesInRemovalOrder(network.rules) {
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

    /// Our rules in the kernel's order, the suppress rules last: removed after the
    /// source rules they let decide (until then, replies to a docker bridge keep main's route).
    static func rulesInRemovalOrder(_ rules: [RoutingRule]) -> [RoutingRule] {
        let ours = rules.filter(\.isOurs)
        return ours.filter { !$0.isMainWithoutDefault } + ours.filter(\.isMainWithoutDefault)
    }

    /// Default routes go before the connected routes their gateways were found in.
    static func removalOrder(_ a: Route, _ b: Route) -> Bool {
        (a.isDefault ? 0 : 1, a.table) < (b.isDefault ? 0 : 1, b.table)
    }

    /// Rules to add and remove so that the kernel's marked rules are the wanted
    /// ones: a wanted rule already present (by `RuleIdentity`) is adopted as the
    /// kernel has it, a marked one no longer wanted is removed with its reason.
    static func reconcileRules(_ wanted: [(rule: RoutingRule, reason: String)], network: NetworkSnapshot, why: Departure)
        -> (additions: [RoutingChange], removals: [RoutingChange], owned: [RoutingRule]) {
        reconcile(wanted.map { ($0.rule, $0.reason) }, present: rulesInRemovalOrder(network.rules),
                  identity: RuleIdentity.init,
                  add: { .addRule($0, reason: $1) },
                  remove: { .removeRule($0, reason: "\($0.summary): \(why.rule($0))") })
    }

    /// As `reconcileRules`, for routes (removed in `removalOrder`).
    static func reconcileRoutes(_ wanted: [(route: Route, reason: String)], network: NetworkSnapshot, why: Departure)
        -> (additions: [RoutingChange], removals: [RoutingChange], owned: [Route]) {
        reconcile(wanted.map { ($0.route, $0.reason) }, present: network.routes.filter(\.isOurs).sorted(by: removalOrder),
                  identity: RouteIdentity.init, add: { .addRoute($0, reason: $1) },
                  remove: { .removeRoute($0, reason: "\($0.summary(network)): \(why.route($0))") })
    }

    /// The one reconciliation both use: what is present and not wanted is removed
    /// (in `present`'s order), what is wanted is adopted when present, else added
    /// (each identity once, in `wanted`'s order).
    private static func reconcile<Item, Identity: Hashable>(
        _ wanted: [(Item, String)], present: [Item], identity: (Item) -> Identity,
        add: (Item, String) -> RoutingChange, remove: (Item) -> RoutingChange
    ) -> (additions: [RoutingChange], removals: [RoutingChange], owned: [Item]) {
        let presentByIdentity = Dictionary(present.map { (identity($0), $0) }, uniquingKeysWith: { a, _ in a })
        let wantedIdentities = Set(wanted.map { identity($0.0) })
        var additions: [RoutingChange] = [], owned: [Item] = []
        let removals = present.filter { !wantedIdentities.contains(identity($0)) }.map(remove)
        var seen: Set<Identity> = []
        for (item, reason) in wanted where seen.insert(identity(item)).inserted {
            if let adopted = presentByIdentity[identity(item)] { owned.append(adopted) } else {
                additions.append(add(item, reason))
                owned.append(item)
            }
        }
        return (additions, removals, owned)
    }
}
