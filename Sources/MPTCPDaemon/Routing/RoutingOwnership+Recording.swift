import MPTCPKit
import MPTCPPolicy

/// How the routing owner keeps its record: what a change adds to it before it
/// is made (so a SIGKILL between the two is adopted by the next run), what it
/// takes out once undone, and which recorded rules and routes still exist.
extension RoutingOwnership {
    /// The rules recorded as made by mptcpctld (one whose stored address is not
    /// one is left out: it cannot be in the kernel).
    var ownedRules: [RoutingRule] { rules.compactMap(\.rule) }
    /// The routes recorded as made by mptcpctld.
    var ownedRoutes: [Route] { routes.compactMap(\.route) }

    func owns(_ rule: RoutingRule) -> Bool { ownedRules.contains { RoutingIdentity.same($0, rule) } }
    func owns(_ route: Route) -> Bool { ownedRoutes.contains { RoutingIdentity.same($0, route) } }

    /// Records what `change` is about to make (before the kernel is asked):
    /// an added rule or route, the rp_filter value found. Returns whether the
    /// record changed (false: it was recorded already, by an earlier run or pass).
    mutating func recordBefore(_ change: RoutingChange) -> Bool {
        switch change {
        case .addRule(let rule, _):
            guard !owns(rule) else { return false }
            rules.append(OwnedRule(rule))
        case .addRoute(let route, _):
            guard !owns(route) else { return false }
            routes.append(OwnedRoute(route))
        case .setReversePathFilter(let interface, let from, _, _):
            guard reversePathFilter[interface] == nil else { return false }
            reversePathFilter[interface] = from
        case .removeRule, .removeRoute, .restoreReversePathFilter:
            return false
        }
        return true
    }

    /// Takes out what `change` is about: after a removal or restore went
    /// through, or when an addition recorded for it was refused.
    mutating func forget(_ change: RoutingChange) {
        switch change {
        case .addRule(let rule, _), .removeRule(let rule, _): rules.removeAll { $0.rule.map { RoutingIdentity.same($0, rule) } ?? true }
        case .addRoute(let route, _), .removeRoute(let route, _):
            routes.removeAll { $0.route.map { RoutingIdentity.same($0, route) } ?? true }
        case .setReversePathFilter(let interface, _, _, _), .restoreReversePathFilter(let interface, _, _):
            reversePathFilter[interface] = nil
        }
    }

    /// The recorded rules and routes that are no longer in the kernel (removed
    /// by someone else, or never made: the daemon died between record and
    /// change); dropped from the record by the caller. Only entries marked as
    /// mptcpctld's count: an identical one someone else made is not ours.
    func vanished(from network: NetworkSnapshot) -> (rules: [RoutingRule], routes: [Route]) {
        let marked = Self.marked(network)
        let rules = ownedRules.filter { rule in !marked.rules.contains { RoutingIdentity.same($0, rule) } }
        let routes = ownedRoutes.filter { route in !marked.routes.contains { RoutingIdentity.same($0, route) } }
        return (rules, routes)
    }

    /// The interfaces whose rp_filter value is recorded but which no longer
    /// exist (a deleted veth or ppp): their sysctls went with them, and a new
    /// interface of the same name must not get the old one's value "back".
    func reversePathFilterOfVanishedLinks(_ network: NetworkSnapshot) -> [String] {
        reversePathFilter.keys.filter { name in !network.links.contains { $0.name == name } }.sorted()
    }

    /// The kernel's rules and routes marked `proto 242`.
    private static func marked(_ network: NetworkSnapshot) -> (rules: [RoutingRule], routes: [Route]) {
        (network.rules.filter { $0.routingProtocol == RoutingProtocol.mptcpctl },
         network.routes.filter { $0.routingProtocol == RoutingProtocol.mptcpctl })
    }

    /// With the rules and routes of `planned` that the kernel has but this record
    /// lacks: marked as mptcpctld's (`proto 242`) and adopted by the planner,
    /// made by a run whose record was lost or set aside.
    func adopting(_ planned: RoutingOwnership, present network: NetworkSnapshot) -> RoutingOwnership {
        var copy = self
        let marked = Self.marked(network)
        for rule in planned.ownedRules where !owns(rule) && marked.rules.contains(where: { RoutingIdentity.same($0, rule) }) {
            copy.rules.append(OwnedRule(rule))
        }
        for route in planned.ownedRoutes where !owns(route) && marked.routes.contains(where: { RoutingIdentity.same($0, route) }) {
            copy.routes.append(OwnedRoute(route))
        }
        return copy
    }

    /// Without the given rules and routes.
    func dropping(rules gone: [RoutingRule], routes goneRoutes: [Route]) -> RoutingOwnership {
        var copy = self
        copy.rules.removeAll { owned in owned.rule.map { r in gone.contains { RoutingIdentity.same($0, r) } } ?? true }
        copy.routes.removeAll { owned in owned.route.map { r in goneRoutes.contains { RoutingIdentity.same($0, r) } } ?? true }
        return copy
    }
}

/// When a rule or route the kernel lists is the one recorded: the fields the
/// kernel keys it by (a route's metric, preferred source and scope are not
/// compared: the kernel fills in a default metric for IPv6, for example; a
/// rule's `suppress_prefixlength` is: the suppress rule and a plain
/// `from all lookup main` are different rules), and for a route whether its
/// gateway is on-link (as `RouteIdentity` compares it).
enum RoutingIdentity {
    static func same(_ a: RoutingRule, _ b: RoutingRule) -> Bool {
        a.family == b.family && a.priority == b.priority && a.source == b.source
            && a.sourcePrefixLength == b.sourcePrefixLength && a.table == b.table
            && a.suppressPrefixLength == b.suppressPrefixLength
    }

    static func same(_ a: Route, _ b: Route) -> Bool {
        a.family == b.family && a.table == b.table && a.destinationPrefixLength == b.destinationPrefixLength
            && (a.isDefault ? b.isDefault : a.destination == b.destination)
            && a.gateway == b.gateway && a.outputInterface == b.outputInterface && a.onLink == b.onLink
    }
}
