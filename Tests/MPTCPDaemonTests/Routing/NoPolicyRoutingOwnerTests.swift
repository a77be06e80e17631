import Glibc
import MPTCPKit
import MPTCPPolicy
import Testing
@testable import MPTCPDaemon

/// The routing owner on a kernel built without CONFIG_FIB_RULES (its rule dump
/// answers EOPNOTSUPP): a pass that succeeds with nothing to do and one note,
/// not a failure retried forever.
@Suite struct NoPolicyRoutingOwnerTests {
    static let unsupported = FakeRouting.refusal("list routing rules", EOPNOTSUPP, "")

    static let note = "this kernel has no policy routing (CONFIG_FIB_RULES); source routing is off — "
        + "build it in or set [routing] mode = \"off\""

    @Test func aPassWithoutPolicyRoutingSucceedsChangesNothingAndWarnsOnce() throws {
        let rig = RoutingRig()
        rig.routing.ruleDumpRefusal = Self.unsupported
        let owner = rig.owner()
        let policy = try RoutingRig.policy()
        for trigger in ["start", "network", "resync"] {
            #expect(owner.reconcile(policy: policy, network: rig.network, trigger: trigger), "no retry after \(trigger)")
        }
        #expect(rig.routing.changes.isEmpty, "\(rig.routing.changes)")
        #expect(rig.ownRoutes.isEmpty && rig.ownRules.isEmpty)
        #expect(owner.notes == [Self.note])
        #expect(rig.log.lines("routing: " + Self.note).count == 1)
        #expect(rig.log.lines("cannot read the routing rules and routes").isEmpty)
        #expect(try rig.store.load().routing.isEmpty)
    }

    @Test func theRoutingPlanShowsTheNoteAndNoChange() throws {
        let rig = RoutingRig()
        rig.routing.ruleDumpRefusal = Self.unsupported
        let view = try RoutingPlanView(kernel: rig.routing.routingKernel, owned: RoutingOwnership(), policy: try RoutingRig.policy(),
                                       network: rig.network)
        #expect(view.rows.isEmpty)
        #expect(view.noteLines == ["note: " + Self.note])
        #expect(view.notes.first?.key == "routing.mode")
    }

    @Test func anyOtherRuleDumpFailureStillFailsThePassForARetry() throws {
        let rig = RoutingRig()
        rig.routing.ruleDumpRefusal = FakeRouting.refusal("list routing rules", EPERM, "")
        let owner = rig.owner()
        #expect(!owner.reconcile(policy: try RoutingRig.policy(), network: rig.network, trigger: "start"))
        #expect(rig.log.lines("cannot read the routing rules and routes").count == 1)
    }

    @Test func aPassThatCanReadRulesAgainMakesTheRoutingAndDropsTheNote() throws {
        let rig = RoutingRig()
        rig.routing.ruleDumpRefusal = Self.unsupported
        let owner = rig.owner()
        let policy = try RoutingRig.policy()
        #expect(owner.reconcile(policy: policy, network: rig.network, trigger: "start"))
        rig.routing.ruleDumpRefusal = nil
        #expect(owner.reconcile(policy: policy, network: rig.network, trigger: "network"))
        // The source rule, and the rule that keeps main's specific routes first.
        #expect(rig.ownRules.count == 2 + 1 && owner.notes.isEmpty)
    }
}
