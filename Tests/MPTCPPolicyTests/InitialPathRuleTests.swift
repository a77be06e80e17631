import MPTCPKit
@testable import MPTCPPolicy
import Testing

extension RoutingLab {
    /// Plans with `health`, applies, records the ownership; returns the plan.
    @discardableResult
    mutating func converge(_ policy: Policy, health: PathHealthView, sourceLocation: SourceLocation = #_sourceLocation) -> RoutingPlan {
        let plan = RoutingPlanner.plan(policy: policy, network: snapshot, reversePathFilter: reversePathFilter, owned: owned,
                                       health: health)
        apply(plan, sourceLocation: sourceLocation)
        return plan
    }
}

/// The initial path (`InitialPath`): while the path holding main's default
/// route is down, new connections (unbound traffic) are sent to a healthy
/// uplink's table by a rule at the range's last priority; healing removes it.
/// Two uplinks, each with a default route in main (eth1 metric 100, eth2 200).
@Suite struct InitialPathRuleTests {
    let policy = RoutingPlannerScenarioTests.policy()

    static func lab() -> (RoutingLab, eth1: Int32, eth2: Int32) {
        var (lab, eth1, eth2) = RoutingPlannerScenarioTests.twoUplinks()
        lab.systemRoute(via: "10.1.1.1", on: eth1, metric: 100)
        lab.systemRoute(via: "10.2.1.1", on: eth2, metric: 200)
        return (lab, eth1, eth2)
    }

    static func down(_ names: String..., family: AddressFamily = .ipv4) -> PathHealthView {
        PathSteeringTests.view(names.map { ($0, family, .down) }, evidence: "3 probes lost in a row")
    }

    static let initialRule = RoutingRule(family: 2, priority: 7399, source: nil, table: 7301)

    @Test func whileMainsDefaultPathIsDownNewConnectionsLeaveByAHealthyUplinkAndHealingRestoresExactly() {
        var (lab, _, _) = Self.lab()
        lab.converge(policy)
        let (rules, routes, owned) = (lab.rules, lab.routes, lab.owned)
        let down = lab.converge(policy, health: Self.down("eth1"))
        #expect(down.addedRules == [Self.initialRule], "\(down.changes)")
        #expect(down.removedRules.isEmpty && down.addedRoutes.isEmpty && down.removedRoutes.isEmpty,
                "the down path keeps its own rules and routes")
        #expect(down.changes.first?.reason == "eth1/ipv4 holds main's default route (default via 10.1.1.1 dev eth1 table 254) and is "
            + "down (3 probes lost in a row): new connections start on eth2 (table 7301, default via 10.2.1.1) until it heals; "
            + "priority 7399, after the source rules", "\(down.changes)")
        #expect(lab.owned.rules.contains(OwnedRule(Self.initialRule)), "recorded, so it is given back")
        #expect(lab.converge(policy, health: Self.down("eth1")).changes.isEmpty, "steady while down")
        let healed = lab.converge(policy, health: PathSteeringTests.view([("eth1", .ipv4, .up)]))
        #expect(healed.removedRules == [Self.initialRule] && healed.changes.count == 1)
        #expect(healed.changes.first?.reason.hasSuffix("eth1/ipv4, which holds main's default route, is up now: "
            + "new connections start on it again") == true, "\(healed.changes)")
        #expect(lab.rules == rules && lab.routes == routes && lab.owned == owned, "exactly as before")
    }

    @Test func aDownPathThatDoesNotHoldMainsDefaultRouteChangesNoRouting() {
        var (lab, _, _) = Self.lab()
        lab.converge(policy)
        #expect(lab.converge(policy, health: Self.down("eth2")).changes.isEmpty)
        #expect(lab.converge(policy, health: Self.down("eth1", family: .ipv6)).changes.isEmpty, "no IPv6 default route in main")
    }

    @Test func withoutAHealthyPathWithADefaultRouteInItsTableANoteSaysSo() {
        var (lab, _, _) = Self.lab()
        lab.converge(policy)
        let both = lab.converge(policy, health: Self.down("eth1", "eth2"))
        #expect(both.changes.isEmpty)
        #expect(both.notes.map(\.message) == ["eth1/ipv4 holds main's default route (default via 10.1.1.1 dev eth1 table 254) and is "
            + "down (3 probes lost in a row): no other ipv4 path has a source-routing table with a default route (a usable managed "
            + "interface with a known gateway), so new connections keep starting on eth1"])
        // eth2 healthy but with no gateway known: its table has no default route to send new connections to.
        var (bare, eth1, _) = RoutingPlannerScenarioTests.twoUplinks()
        bare.systemRoute(via: "10.1.1.1", on: eth1)
        let plan = bare.converge(policy, health: Self.down("eth1"))
        #expect(!plan.addedRules.contains { $0.source == nil && $0.table != Route.tableMain })
        #expect(plan.notes.contains { $0.message.contains("so new connections keep starting on eth1") }, "\(plan.notes)")
    }

    @Test func theRangesLastPriorityIsKeptForItAndANarrowRangeGetsANote() {
        var roomy = policy
        roomy.routing.priorities = 7300...7303
        var (lab, _, _) = Self.lab()
        let plan = lab.converge(roomy, health: Self.down("eth1"))
        #expect(Set(plan.addedRules.map(\.priority)) == [7300, 7301, 7302, 7303])
        #expect(plan.addedRules.last == RoutingRule(family: 2, priority: 7303, source: nil, table: 7301))
        var narrow = policy
        narrow.routing.priorities = 7300...7302
        var (tight, _, _) = Self.lab()
        let full = tight.converge(narrow, health: Self.down("eth1"))
        #expect(Set(full.addedRules.map(\.priority)) == [7300, 7301, 7302], "every interface still gets its source rule")
        #expect(full.notes.map(\.key) == ["routing.priorities"] && full.notes.first?.message.contains("widen the range") == true)
    }

    @Test func withRoutingOffANoteSaysWhatWouldBeDone() {
        var off = policy
        off.routing.mode = .off
        var (lab, _, _) = Self.lab()
        let plan = lab.converge(off, health: Self.down("eth1"))
        #expect(plan.changes.isEmpty)
        #expect(plan.notes.map(\.message) == ["eth1/ipv4 holds main's default route (default via 10.1.1.1 dev eth1 table 254) and is "
            + "down (3 probes lost in a row); [routing] mode = \"off\": with mode = \"on\", new connections would start on eth2 "
            + "(a rule from all lookup eth2's table, default via 10.2.1.1, after the source rules) until it heals"])
        #expect(plan.notes.first?.key == "routing.mode")
    }

    @Test func aLeftoverInitialPathRuleIsRemovedWhenNoPathIsKnownDown() {
        var (lab, _, _) = Self.lab()
        lab.converge(policy, health: Self.down("eth1"))
        // A restart: no verdict yet (the rule is recorded, and marked as ours in the kernel).
        let restarted = lab.converge(policy)
        #expect(restarted.removedRules == [Self.initialRule])
        #expect(restarted.changes.first?.reason.contains("is unknown now: new connections start on it again") == true)
    }

    @Test func theRuleFollowsWhichPathIsHealthy() {
        var (lab, _, _) = Self.lab()
        let eth3 = lab.link("eth3")
        lab.address("10.5.1.2", 24, on: eth3)
        lab.systemRoute(via: "10.5.1.1", on: eth3, metric: 300)
        var three = policy
        three.interfaces.append(interfaceBlock(["eth3"], position: 4))
        lab.converge(three)
        // eth2 degraded: eth3, which is up, is preferred.
        let view = PathSteeringTests.view([("eth1", .ipv4, .down), ("eth2", .ipv4, .degraded)])
        let plan = lab.converge(three, health: view)
        #expect(plan.addedRules == [RoutingRule(family: 2, priority: 7399, source: nil, table: 7302)], "\(plan.changes)")
    }
}
