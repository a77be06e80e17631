import Foundation
import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// The routing planner over time: it follows renews, adopts what it made,
/// never touches what others made, and gives everything back.
@Suite struct RoutingPlannerOwnershipTests {
    /// Variant (b), converged: eth1 via 10.1.1.1 in table 7300, eth2 via 10.2.1.1 in 7301.
    static func converged() -> (RoutingLab, eth1: Int32, eth2: Int32) {
        var (lab, eth1, eth2) = RoutingPlannerScenarioTests.twoUplinks()
        lab.systemRoute(via: "10.1.1.1", on: eth1, metric: 100)
        lab.systemRoute(via: "10.2.1.1", on: eth2, metric: 200)
        lab.reversePathFilter["eth2"] = 1
        lab.converge(RoutingPlannerScenarioTests.policy())
        return (lab, eth1, eth2)
    }

    let policy = RoutingPlannerScenarioTests.policy()

    @Test func aRenewToAnotherAddressAndGatewayReplacesTheRuleAndRoutesInTheSameTable() {
        var (lab, _, eth2) = Self.converged()
        lab.addresses.removeAll { $0.address == ip("10.2.1.2") }
        lab.address("10.2.5.7", 24, on: eth2)
        lab.routes.removeAll { !$0.isOurs && $0.outputInterface == eth2 }
        lab.systemRoute(via: "10.2.5.1", on: eth2, metric: 200)
        let plan = lab.converge(policy)
        #expect(plan.removedRules == [RoutingRule(from: ip("10.2.1.2"), table: 7301, priority: 7302)])
        #expect(Set(plan.removedRoutes.map { $0.gateway ?? $0.destination }) == [ip("10.2.1.1"), ip("10.2.1.0")])
        #expect(plan.addedRules == [RoutingRule(from: ip("10.2.5.7"), table: 7301, priority: 7302)])
        #expect(Set(plan.addedRoutes.map { $0.gateway ?? $0.destination }) == [ip("10.2.5.1"), ip("10.2.5.0")])
        #expect(plan.changes.contains { $0.reason.contains("10.2.1.2 is on no interface any more") }, "\(plan.changes)")
        #expect(lab.ours(table: 7301).count == 2 && lab.rules.count == 2 + 1, "two source rules and the suppress rule")
        #expect(lab.plan(policy).changes.isEmpty)
        // eth1's table was not touched.
        #expect(!plan.changes.contains { if case .addRoute(let r, _) = $0 { r.table == 7300 } else { false } })
    }

    @Test func whatTheDaemonMadeIsAdoptedAfterACrashWithoutDuplicates() {
        var (lab, _, _) = Self.converged()
        let record = lab.owned
        lab.owned = RoutingOwnership(reversePathFilter: record.reversePathFilter)  // killed before it recorded the rest
        let plan = lab.plan(policy)
        #expect(plan.changes.isEmpty, "\(plan.changes)")
        #expect(plan.ownership.tables == record.tables)
        #expect(Set(plan.ownership.rules) == Set(record.rules) && Set(plan.ownership.routes) == Set(record.routes))
    }

    @Test func anOrphanTheDaemonMadeButNoLongerWantsIsRemoved() {
        var (lab, _, _) = Self.converged()
        let orphan = RoutingRule(from: ip("10.7.7.7"), table: 7305, priority: 7305)
        lab.rules.append(orphan)
        let plan = lab.converge(policy)
        #expect(plan.removedRules == [orphan])
        #expect(plan.changes.count == 1)
    }

    @Test func routesSomeoneFlushedAreAddedAgain() {
        var (lab, _, _) = Self.converged()
        lab.routes.removeAll { $0.isOurs && $0.table == 7300 }
        let plan = lab.converge(policy)
        #expect(plan.addedRoutes.count == 2 && plan.addedRules.isEmpty && plan.removedRules.isEmpty)
    }

    @Test func foreignRulesAndTablesAreNeverTouchedAndTheirNumbersAreSkipped() {
        var (lab, eth1, eth2) = RoutingPlannerScenarioTests.twoUplinks()
        lab.systemRoute(via: "10.1.1.1", on: eth1, metric: 100)
        lab.systemRoute(via: "10.2.1.1", on: eth2, metric: 200)
        lab.systemRoute(via: "10.1.1.1", on: eth1, table: 7300)  // someone's table in our range
        let foreignRule = RoutingRule(from: ip("192.0.2.0"), table: 7301, priority: 7300, routingProtocol: RoutingProtocol.boot)
        lab.rules.append(foreignRule)  // someone's rule: its priority and its table are theirs
        let foreignBefore = (lab.routes, lab.rules)
        let plan = lab.converge(policy)
        #expect(plan.ownership.tables == ["eth1": 7302, "eth2": 7303])
        #expect(Set(plan.addedRules.map(\.priority)) == [7301, 7302, 7303], "7301 for the suppress rule, after the foreign 7300")
        #expect(foreignBefore.0.allSatisfy { lab.routes.contains($0) } && lab.rules.contains(foreignRule))
        // Removing everything leaves exactly what others made.
        lab.apply(RoutingPlanner.removal(owned: lab.owned, network: lab.snapshot))
        #expect(lab.routes == foreignBefore.0 && lab.rules == foreignBefore.1)
    }

    @Test func anInterfaceThatGoesLosesItsRulesAndItsTableIsForgotten() {
        var (lab, _, eth2) = Self.converged()
        lab.links.removeAll { $0.index == eth2 }
        lab.addresses.removeAll { $0.interfaceIndex == eth2 }
        lab.routes.removeAll { $0.outputInterface == eth2 }  // the kernel drops a gone link's routes
        lab.reversePathFilter["eth2"] = nil
        let plan = lab.converge(policy)
        #expect(plan.changes == [.removeRule(RoutingRule(from: ip("10.2.1.2"), table: 7301, priority: 7302),
                                             reason: "from 10.2.1.2/32 lookup 7301 priority 7302: 10.2.1.2 is on no interface any more")])
        #expect(plan.ownership.tables == ["eth1": 7300] && plan.ownership.reversePathFilter.isEmpty)
    }

    @Test func anAddressThePolicyNoLongerUsesLosesItsRuleAndRoutesWithTheReason() {
        var (lab, _, _) = Self.converged()
        var off = policy
        off.interfaces[2].role = .off
        let plan = lab.converge(off)
        #expect(plan.removedRules.map(\.source) == [ip("10.2.1.2")] && plan.removedRoutes.count == 2)
        #expect(plan.changes.contains { $0.reason.contains("10.2.1.2 is no longer used: eth2 is off") }, "\(plan.changes)")
        #expect(plan.changes.contains { $0.reason.contains("eth2 has no address the policy uses") })
        #expect(plan.changes.contains(.restoreReversePathFilter(interface: "eth2", to: 1, reason: "eth2: rp_filter back to the 1 found (eth2 is no longer managed)")))
        #expect(lab.ours(table: 7301).isEmpty && lab.reversePathFilter["eth2"] == 1)
    }

    @Test func modeOffPlansOnlyTheRemovalOfWhatIsOwned() {
        var (lab, _, _) = Self.converged()
        var off = policy
        off.routing.mode = .off
        let foreign = lab.routes.filter { !$0.isOurs }
        let plan = lab.converge(off)
        #expect(plan.addedRoutes.isEmpty && plan.addedRules.isEmpty)
        #expect(plan.removedRules.count == 2 + 1 && plan.removedRoutes.count == 4)
        #expect(plan.changes.allSatisfy { $0.reason.contains("mode = \"off\"") })
        #expect(lab.routes == foreign && lab.rules.isEmpty && lab.reversePathFilter["eth2"] == 1)
        #expect(plan.ownership.isEmpty)
        // Off with nothing owned: nothing to do.
        #expect(lab.plan(off).changes.isEmpty)
    }

    @Test func removalGivesBackRulesThenRoutesThenRpFilter() {
        var (lab, _, _) = Self.converged()
        let plan = RoutingPlanner.removal(owned: lab.owned, network: lab.snapshot)
        lab.apply(plan)
        #expect(plan.changes.count == 2 + 1 + 4 + 1, "two source rules, the suppress rule, four routes, rp_filter")
        #expect(plan.changes.allSatisfy { $0.reason.contains("on_exit = \"remove\"") })
        #expect(lab.rules.isEmpty && lab.routes.allSatisfy { !$0.isOurs } && lab.reversePathFilter["eth2"] == 1)
        #expect(plan.ownership.isEmpty)
    }

    @Test func aTableRangeThatRunsOutNotesTheInterfaceAndTheKey() {
        var (lab, eth1, eth2) = RoutingPlannerScenarioTests.twoUplinks()
        lab.systemRoute(via: "10.1.1.1", on: eth1)
        lab.systemRoute(via: "10.2.1.1", on: eth2)
        var narrow = policy
        narrow.routing.tables = 7300...7300
        let plan = lab.converge(narrow)
        #expect(plan.ownership.tables == ["eth1": 7300])
        #expect(plan.notes.map(\.key) == ["routing.tables"] && plan.notes.first?.interface == "eth2")
    }

    @Test func ownershipRoundTripsThroughJSON() throws {
        let (lab, _, _) = Self.converged()
        let data = try JSONEncoder().encode(lab.owned)
        #expect(try JSONDecoder().decode(RoutingOwnership.self, from: data) == lab.owned)
        #expect(lab.owned.rules.compactMap(\.rule).count == lab.owned.rules.count)
        #expect(lab.owned.routes.compactMap(\.route) == lab.owned.routes.compactMap(\.route))
    }
}
