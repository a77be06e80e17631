import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// An address from test text (a typo is recorded, not crashed on).
func ip(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> IPAddress {
    guard let a = IPAddress(text) else {
        Issue.record("not an address: \(text)", sourceLocation: sourceLocation)
        return .v4([0, 0, 0, 0])
    }
    return a
}

/// A simulated namespace for the routing planner: links, addresses, every
/// table's routes, the rules and rp_filter, and what the daemon recorded.
/// `converge` plans and applies as the daemon would, and checks what a
/// kernel would refuse (a duplicate, a missing item) and the plan's order.
struct RoutingLab {
    var links: [Link] = []
    var addresses: [InterfaceAddress] = []
    var routes: [Route] = []
    var rules: [RoutingRule] = []
    var reversePathFilter: [String: Int] = ["all": 0]
    var owned = RoutingOwnership()

    mutating func link(_ name: String) -> Int32 {
        let index = Int32(links.count + 2)
        links.append(Link(index: index, name: name, flags: 1, operState: .up))
        reversePathFilter[name] = 0
        return index
    }

    mutating func address(_ text: String, _ length: UInt8, on index: Int32, flags: UInt32 = 0) {
        addresses.append(InterfaceAddress(address: ip(text), prefixLength: length, interfaceIndex: index, flags: flags))
    }

    /// A route another program made (`proto boot` unless said).
    mutating func systemRoute(_ destination: String? = nil, _ length: UInt8 = 0, via gateway: String?, on index: Int32,
                              table: UInt32 = Route.tableMain, metric: UInt32? = nil, proto: UInt8 = RoutingProtocol.boot) {
        let family = (gateway ?? destination).map { ip($0).family } ?? 2
        routes.append(Route(family: family, table: table, destination: destination.map { ip($0) }, destinationPrefixLength: length,
                            gateway: gateway.map { ip($0) }, outputInterface: index, routingProtocol: proto, metric: metric))
    }

    var snapshot: NetworkSnapshot {
        NetworkSnapshot(links: links, addresses: addresses, defaultRoutes: [], routes: routes, rules: rules)
    }

    mutating func plan(_ policy: Policy) -> RoutingPlan {
        RoutingPlanner.plan(policy: policy, network: snapshot, reversePathFilter: reversePathFilter, owned: owned)
    }

    /// Plans, applies, records the ownership; returns the plan.
    @discardableResult
    mutating func converge(_ policy: Policy, sourceLocation: SourceLocation = #_sourceLocation) -> RoutingPlan {
        let plan = plan(policy)
        apply(plan, sourceLocation: sourceLocation)
        return plan
    }

    mutating func apply(_ plan: RoutingPlan, sourceLocation: SourceLocation = #_sourceLocation) {
        expectOrdered(plan, sourceLocation: sourceLocation)
        for change in plan.changes {
            switch change {
            case .addRoute(var route, _):
                #expect(!routes.contains { RouteIdentity($0) == RouteIdentity(route) }, "EEXIST: \(route)", sourceLocation: sourceLocation)
                if route.family == 10 && route.metric == nil { route.metric = 1024 }  // as the kernel stores it
                routes.append(route)
            case .removeRoute(let route, _):
                #expect(route.isOurs, "removes a foreign route: \(route)", sourceLocation: sourceLocation)
                #expect(routes.contains(route), "ESRCH: \(route)", sourceLocation: sourceLocation)
                routes.removeAll { $0 == route }
            case .addRule(let rule, _):
                #expect(!rules.contains { RuleIdentity($0) == RuleIdentity(rule) }, "EEXIST: \(rule)", sourceLocation: sourceLocation)
                // main always has the kernel's connected routes, which the lab does not list.
                #expect(rule.table == Route.tableMain || routes.contains { $0.table == rule.table && $0.family == rule.family },
                        "a rule into an empty table: \(rule)",
                        sourceLocation: sourceLocation)
                rules.append(rule)
            case .removeRule(let rule, _):
                #expect(rule.isOurs, "removes a foreign rule: \(rule)", sourceLocation: sourceLocation)
                #expect(rules.contains(rule), "ENOENT: \(rule)", sourceLocation: sourceLocation)
                rules.removeAll { $0 == rule }
            case .setReversePathFilter(let name, let from, let to, _):
                #expect(reversePathFilter[name] == from, sourceLocation: sourceLocation)
                reversePathFilter[name] = to
            case .restoreReversePathFilter(let name, let to, _):
                reversePathFilter[name] = to
            }
        }
        owned = plan.ownership
    }

    /// Removals of rules before removals of routes; additions of routes before additions of rules; every change has a reason.
    func expectOrdered(_ plan: RoutingPlan, sourceLocation: SourceLocation = #_sourceLocation) {
        let kinds = plan.changes.map { change -> Int in
            switch change {
            case .removeRule: return 0
            case .removeRoute: return 1
            case .restoreReversePathFilter, .setReversePathFilter: return 2
            case .addRoute: return 3
            case .addRule: return 4
            }
        }
        #expect(kinds == kinds.sorted(), "\(plan.changes)", sourceLocation: sourceLocation)
        #expect(plan.changes.allSatisfy { !$0.reason.isEmpty }, sourceLocation: sourceLocation)
    }

    /// The routes the daemon made in `table`.
    func ours(table: UInt32) -> [Route] { routes.filter { $0.isOurs && $0.table == table } }
}

extension RoutingPlan {
    var addedRoutes: [Route] { changes.compactMap { if case .addRoute(let r, _) = $0 { r } else { nil } } }
    var removedRoutes: [Route] { changes.compactMap { if case .removeRoute(let r, _) = $0 { r } else { nil } } }
    var addedRules: [RoutingRule] { changes.compactMap { if case .addRule(let r, _) = $0 { r } else { nil } } }
    var removedRules: [RoutingRule] { changes.compactMap { if case .removeRule(let r, _) = $0 { r } else { nil } } }
}

/// `[[interface]]` for tests.
func interfaceBlock(_ names: [String], _ role: Role = .active, position: Int, gateways: [String] = [],
                    families: Set<AddressFamily> = [.ipv4, .ipv6]) -> InterfaceRule {
    var rule = InterfaceRule(names: names.compactMap { try? Glob($0) }, role: role, families: families, position: position)
    rule.gateways = gateways.map { ip($0) }
    return rule
}
