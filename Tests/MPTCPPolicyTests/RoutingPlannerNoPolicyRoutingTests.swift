import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// A kernel built without CONFIG_FIB_RULES has no rules: the planner plans no
/// routing there and says so once, with the key that silences it.
@Suite struct RoutingPlannerNoPolicyRoutingTests {
    static func withoutPolicyRouting(_ lab: RoutingLab) -> NetworkSnapshot {
        var snapshot = lab.snapshot
        snapshot.hasPolicyRouting = false
        return snapshot
    }

    @Test func withoutPolicyRoutingNothingIsPlannedAndOneNoteSaysWhy() {
        var (lab, eth1, _) = RoutingPlannerScenarioTests.twoUplinks()
        lab.systemRoute(via: "10.1.1.1", on: eth1)
        lab.reversePathFilter["eth2"] = 1
        let plan = RoutingPlanner.plan(policy: RoutingPlannerScenarioTests.policy(eth2Gateways: ["10.2.1.1"]),
                                       network: Self.withoutPolicyRouting(lab), reversePathFilter: lab.reversePathFilter, owned: lab.owned)
        #expect(plan.changes.isEmpty, "\(plan.changes)")
        #expect(plan.notes.count == 1)
        #expect(plan.notes.first?.message == "this kernel has no policy routing (CONFIG_FIB_RULES); source routing is off — "
            + "build it in or set [routing] mode = \"off\"")
        #expect(plan.notes.first?.key == "routing.mode" && plan.notes.first?.family == nil)
    }

    @Test func withoutPolicyRoutingWhatIsOwnedIsKeptAsRecorded() {
        let (lab, _, _) = RoutingPlannerOwnershipTests.converged()
        let record = lab.owned
        let plan = RoutingPlanner.plan(policy: RoutingPlannerScenarioTests.policy(), network: Self.withoutPolicyRouting(lab),
                                       reversePathFilter: lab.reversePathFilter, owned: record)
        #expect(plan.changes.isEmpty && plan.ownership == record)
    }

    @Test func modeOffStillGivesBackWhatWasMadeAndNeedsNoNote() {
        let (lab, _, _) = RoutingPlannerOwnershipTests.converged()
        var policy = RoutingPlannerScenarioTests.policy()
        policy.routing.mode = .off
        let plan = RoutingPlanner.plan(policy: policy, network: Self.withoutPolicyRouting(lab), reversePathFilter: lab.reversePathFilter,
                                       owned: lab.owned)
        #expect(plan.notes.isEmpty)
        #expect(!plan.removedRoutes.isEmpty)
    }
}
