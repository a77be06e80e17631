import Foundation
import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// The rule that keeps main's specific routes first (`from all lookup main
/// suppress_prefixlength 0`, as wg-quick makes it): without it the source rules
/// send replies to a docker bridge or a LAN route out of the uplink.
@Suite struct RoutingSuppressRuleTests {
    let policy = RoutingPlannerScenarioTests.policy()

    /// Variant (b) with IPv6 on eth1 too, converged.
    static func dualStack() -> (RoutingLab, eth1: Int32) {
        var (lab, eth1, eth2) = RoutingPlannerScenarioTests.twoUplinks()
        lab.address("2001:db8:1::2", 64, on: eth1)
        lab.systemRoute(via: "10.1.1.1", on: eth1, metric: 100)
        lab.systemRoute(via: "10.2.1.1", on: eth2, metric: 200)
        lab.systemRoute(via: "2001:db8:1::1", on: eth1)
        lab.converge(RoutingPlannerScenarioTests.policy())
        return (lab, eth1)
    }

    @Test func eachFamilyWithSourceRulesGetsTheSuppressRuleBeforeThemAtTheRangesFirstPriority() {
        var (lab, _) = Self.dualStack()
        let suppress = lab.rules.filter(\.isMainWithoutDefault)
        #expect(Set(suppress) == [RoutingRule.mainWithoutDefault(family: 2, priority: 7300),
                                  RoutingRule.mainWithoutDefault(family: 10, priority: 7300)])
        #expect(lab.rules.filter { $0.source != nil }.allSatisfy { $0.priority > 7300 }, "\(lab.rules)")
        #expect(lab.owned.rules.filter { $0.suppressPrefixLength == 0 }.count == 2)
        #expect(lab.plan(policy).changes.isEmpty)
    }

    @Test func theSuppressRuleIsAddedBeforeTheSourceRulesWithItsReason() {
        var (lab, eth1, eth2) = RoutingPlannerScenarioTests.twoUplinks()
        lab.systemRoute(via: "10.1.1.1", on: eth1)
        lab.systemRoute(via: "10.2.1.1", on: eth2)
        let plan = lab.converge(policy)
        #expect(plan.addedRules.first == RoutingRule.mainWithoutDefault(family: 2, priority: 7300))
        #expect(plan.changes.contains { $0.reason.contains("replies to subnets main reaches through other interfaces (a docker bridge, "
            + "a LAN route) keep main's route; only main's default route is passed over") })
    }

    @Test func anUpgradeFromARecordWhoseInterfaceRuleHoldsTheRangesFirstPriorityMovesThatRuleAboveTheSuppressRule() throws {
        var (lab, eth1, eth2) = RoutingPlannerScenarioTests.twoUplinks()
        lab.systemRoute(via: "10.1.1.1", on: eth1, metric: 100)
        lab.systemRoute(via: "10.2.1.1", on: eth2, metric: 200)
        lab.converge(policy)
        // As an older mptcpctld left it: eth1's rule at 7300, eth2's at 7301, no suppress rule, a record without the key.
        let old = [RoutingRule(from: ip("10.1.1.2"), table: 7300, priority: 7300), RoutingRule(from: ip("10.2.1.2"), table: 7301, priority: 7301)]
        lab.rules = old
        let json = try JSONEncoder().encode(RoutingOwnership(tables: lab.owned.tables, rules: old.map(OwnedRule.init), routes: lab.owned.routes))
        #expect(!String(decoding: json, as: UTF8.self).contains("suppress_prefix_length"))
        lab.owned = try JSONDecoder().decode(RoutingOwnership.self, from: json)
        let plan = lab.converge(policy)
        #expect(plan.removedRules == [old[0]])
        #expect(plan.addedRules == [RoutingRule.mainWithoutDefault(family: 2, priority: 7300),
                                    RoutingRule(from: ip("10.1.1.2"), table: 7300, priority: 7302)])
        #expect(plan.changes.contains { $0.reason.contains("replaced: 10.1.1.2 on eth1 now uses table 7300, priority 7302") }, "\(plan.changes)")
        #expect(plan.ownership.tables == ["eth1": 7300, "eth2": 7301], "the tables are kept")
        #expect(lab.plan(policy).changes.isEmpty)
    }

    @Test func aMarkedSuppressRuleIsAdoptedAtItsPriorityWhenTheRecordIsLost() {
        var (lab, eth1, eth2) = RoutingPlannerScenarioTests.twoUplinks()
        lab.systemRoute(via: "10.1.1.1", on: eth1)
        lab.systemRoute(via: "10.2.1.1", on: eth2)
        lab.rules.append(RoutingRule.mainWithoutDefault(family: 2, priority: 7310))  // made by a run whose record is lost
        let plan = lab.converge(policy)
        #expect(plan.removedRules.isEmpty && !plan.addedRules.contains(where: \.isMainWithoutDefault), "\(plan.changes)")
        #expect(Set(plan.addedRules.map(\.priority)) == [7311, 7312])
        #expect(plan.ownership.rules.contains(OwnedRule(RoutingRule.mainWithoutDefault(family: 2, priority: 7310))))
    }

    @Test func aForeignRuleAtTheRangesFirstPriorityPushesTheSuppressRuleToTheNextFree() {
        var (lab, eth1, eth2) = RoutingPlannerScenarioTests.twoUplinks()
        lab.systemRoute(via: "10.1.1.1", on: eth1)
        lab.systemRoute(via: "10.2.1.1", on: eth2)
        // wg-quick's own suppress rule, say: someone else's, never adopted.
        lab.rules.append(RoutingRule(family: 2, priority: 7300, source: nil, table: Route.tableMain, routingProtocol: RoutingProtocol.boot,
                                     suppressPrefixLength: 0))
        let plan = lab.converge(policy)
        #expect(plan.addedRules.first == RoutingRule.mainWithoutDefault(family: 2, priority: 7301))
        #expect(!plan.removedRules.contains { !$0.isOurs })
    }

    @Test func withoutAFreePriorityForTheSuppressRuleNothingIsSourceRoutedAndTheNoteNamesTheKey() {
        var (lab, eth1, eth2) = RoutingPlannerScenarioTests.twoUplinks()
        lab.systemRoute(via: "10.1.1.1", on: eth1)
        lab.systemRoute(via: "10.2.1.1", on: eth2)
        var narrow = policy
        narrow.routing.priorities = 7300...7300
        lab.rules.append(RoutingRule(from: ip("192.0.2.9"), table: 100, priority: 7300, routingProtocol: RoutingProtocol.boot))
        let plan = lab.converge(narrow)
        #expect(plan.addedRules.isEmpty && plan.addedRoutes.isEmpty)
        #expect(plan.notes.map(\.key) == ["routing.priorities", "routing.priorities"], "\(plan.notes)")
        #expect(plan.notes.first?.message.contains("keeps main's specific routes first") == true)
        // A range of one priority holds the suppress rule but no source rule: nothing either.
        lab.rules.removeAll { !$0.isOurs }
        let one = lab.converge(narrow)
        #expect(one.addedRules.isEmpty && one.notes.map(\.key) == ["routing.priorities", "routing.priorities"])
    }

    @Test func theSuppressRuleOfAFamilyGoesWithItsLastSourceRuleAndIsRemovedLast() {
        var (lab, _) = Self.dualStack()
        lab.addresses.removeAll { !$0.address.isIPv4 }
        let plan = lab.converge(policy)
        #expect(plan.removedRules.map(\.family) == [10, 10])
        #expect(plan.removedRules.last == RoutingRule.mainWithoutDefault(family: 10, priority: 7300), "the suppress rule after the source rule")
        #expect(plan.changes.contains { $0.reason.contains("no IPv6 address has a source rule any more") }, "\(plan.changes)")
        #expect(lab.rules.contains(RoutingRule.mainWithoutDefault(family: 2, priority: 7300)))
        // mode = "off" and on_exit = "remove" take it too, after the source rules.
        let removal = RoutingPlanner.removal(owned: lab.owned, network: lab.snapshot)
        #expect(removal.removedRules.last?.isMainWithoutDefault == true && removal.removedRules.count == 3)
        lab.apply(removal)
        #expect(lab.rules.isEmpty)
    }
}
