import Glibc
import MPTCPKit
import MPTCPPolicy
import Testing
@testable import MPTCPDaemon

/// Failback once a path heals with its subflows kept through the outage
/// (`on_path_down = "backup"`), in the services: the health board counts the
/// heals, the reconciler replaces the in-kernel PM's endpoint once per heal
/// (recording it as it goes), the userspace path manager destroys the kept
/// subflows and makes them again.
@Suite struct BackupFailbackServiceTests {
    static let a1 = PathKey(interface: "a1", family: .ipv4)

    static func view(_ state: PathHealthState, heals: Int = 0, path: String = "a1", otherRoundTrip: Duration? = nil) -> PathHealthView {
        // a2, up, is the other path of the family (a heal is rebuilt only while one is usable).
        PathHealthView(paths: [
            PathKey(interface: path, family: .ipv4):
                PathHealthView.Verdict(state: state, onPathDown: .backup, evidence: "3 probes to 10.0.1.254 lost in a row", heals: heals),
            PathKey(interface: path == "a2" ? "a1" : "a2", family: .ipv4):
                PathHealthView.Verdict(state: .up, onPathDown: .backup, roundTrip: otherRoundTrip),
        ])
    }

    @Test func theBoardCountsEachTimeAPathLeavesDown() {
        let board = HealthBoard()
        board.setRunning(true)
        board.publish(Self.view(.up))
        #expect(board.view.paths[Self.a1]?.heals == 0)
        board.publish(Self.view(.down))
        board.publish(Self.view(.down))
        #expect(board.view.paths[Self.a1]?.heals == 0, "still down")
        board.publish(Self.view(.up))
        #expect(board.view.paths[Self.a1]?.heals == 1)
        board.publish(Self.view(.degraded))
        #expect(board.view.paths[Self.a1]?.heals == 1, "degraded from up: no heal")
        board.publish(Self.view(.down))
        board.publish(Self.view(.degraded))
        #expect(board.view.paths[Self.a1]?.heals == 2, "down to degraded: left down")
        board.publish(PathHealthView())
        board.publish(Self.view(.up))
        #expect(board.view.paths[Self.a1]?.heals == 2, "a path back in the view keeps its count")
    }

    @Test func theReconcilerReplacesAHealedBackupEndpointOnceAddingItAgainAtTheFollowingPass() throws {
        let rig = ReconcilerRig()
        let reconciler = try rig.reconciler(try ReconcilerRig.policy(a2: "active"))
        #expect(reconciler.reconcile(trigger: "start"))
        #expect(reconciler.reconcile(trigger: "health", health: Self.view(.down)))
        #expect(rig.table == ["1 10.0.1.1 subflow,backup", "2 10.0.2.1 subflow"])
        #expect(reconciler.readdAt == nil)
        _ = rig.actions()
        rig.kernel.clearRequests()
        let before = ContinuousClock.now
        #expect(reconciler.reconcile(trigger: "health", health: Self.view(.up, heals: 1)))
        #expect(rig.kernel.changes.map(\.description) == ["delete 1"], "deleted; added again by the next pass")
        #expect(rig.actions() == ["endpoint_delete 10.0.1.1 ok"])
        #expect(try rig.record().endpoints == [OwnedEndpoint(id: 2, address: IPAddress("10.0.2.1")!)], "given up: the kernel's and ours alike")
        #expect(reconciler.actedHeals[Self.a1] == 1)
        let readd = try #require(reconciler.readdAt)
        #expect(readd >= before + PathHealthView.readdCeiling, "a pass is due after the delay: the longest, a2's round trip unknown")
        rig.kernel.clearRequests()
        #expect(reconciler.reconcile(trigger: "network", health: Self.view(.up, heals: 1)))
        #expect(rig.kernel.changes.isEmpty, "a pass before that adds nothing")
        reconciler.readdDue()
        rig.kernel.clearRequests()
        #expect(reconciler.reconcile(trigger: "health", health: Self.view(.up, heals: 1)))
        #expect(rig.kernel.changes.map(\.description) == ["add 1 10.0.1.1 subflow"], "its id, not backup")
        #expect(try rig.record().endpoints.contains(OwnedEndpoint(id: 1, address: IPAddress("10.0.1.1")!)), "ours again")
        #expect(reconciler.readdAt == nil)
        rig.kernel.clearRequests()
        #expect(reconciler.reconcile(trigger: "health", health: Self.view(.up, heals: 1)))
        #expect(rig.kernel.changes.isEmpty, "once per heal, not every pass")
    }

    /// A reconciler past its start with a1 (active, like a2) down: its endpoint backup.
    static func a1Down() throws -> (ReconcilerRig, Reconciler) {
        let rig = ReconcilerRig()
        let reconciler = try rig.reconciler(try ReconcilerRig.policy(a2: "active"))
        #expect(reconciler.reconcile(trigger: "start"))
        #expect(reconciler.reconcile(trigger: "health", health: Self.view(.down)))
        return (rig, reconciler)
    }

    @Test func theReplacedEndpointWaitsForTheOtherPathsRoundTripNotLonger() throws {
        let (rig, reconciler) = try Self.a1Down()
        defer { withExtendedLifetime(rig) {} }  // its state directory lives as long as it
        let before = ContinuousClock.now
        #expect(reconciler.reconcile(trigger: "health", health: Self.view(.up, heals: 1, otherRoundTrip: .milliseconds(40))))
        let after = ContinuousClock.now
        let readd = try #require(reconciler.readdAt)
        // 40 ms, plus the 30 ms margin, from the moment of the delete.
        #expect(readd >= before + .milliseconds(70) && readd <= after + .milliseconds(70))
    }

    @Test func aLaterHealsShorterWaitDoesNotCutAnEarlierOneShort() throws {
        let (rig, reconciler) = try Self.a1Down()
        let before = ContinuousClock.now
        #expect(reconciler.reconcile(trigger: "health", health: Self.view(.up, heals: 1)))
        let first = try #require(reconciler.readdAt)
        #expect(first >= before + PathHealthView.readdCeiling)
        // a2 heals next, a1's round trip known (40 ms): its own wait would end sooner.
        #expect(reconciler.reconcile(trigger: "health", health: Self.view(.down, path: "a2", otherRoundTrip: .milliseconds(40))))
        rig.kernel.clearRequests()
        #expect(reconciler.reconcile(trigger: "health", health: Self.view(.up, heals: 1, path: "a2", otherRoundTrip: .milliseconds(40))))
        #expect(rig.kernel.changes.map(\.description).contains("delete 2"), "a2's endpoint replaced: \(rig.kernel.changes)")
        #expect(reconciler.readdAt == first, "a1's endpoint still waits its 300 ms")
    }

    @Test func aRefusedReplacementKeepsTheEndpointOursAndIsTriedAgain() throws {
        let rig = ReconcilerRig()
        let reconciler = try rig.reconciler(try ReconcilerRig.policy(a2: "active"))
        #expect(reconciler.reconcile(trigger: "start"))
        #expect(reconciler.reconcile(trigger: "health", health: Self.view(.down)))
        let refusal = MPTCPError(code: .kernel, operation: "delete endpoint", errno: EPERM, kernelMessage: "not allowed")
        rig.kernel.refuse(refusal) { if case .delete = $0 { true } else { false } }
        rig.kernel.clearRequests()
        #expect(!reconciler.reconcile(trigger: "health", health: Self.view(.up, heals: 1)))
        #expect(rig.kernel.changes.map(\.description) == ["delete 1"])
        #expect(try rig.record().endpoints.contains(OwnedEndpoint(id: 1, address: IPAddress("10.0.1.1")!)), "still ours")
        #expect(reconciler.actedHeals[Self.a1] == 0 && reconciler.readdAt == nil, "the heal not acted on")
        rig.kernel.clearRequests()
        #expect(reconciler.reconcile(trigger: "retry", health: Self.view(.up, heals: 1)))
        #expect(rig.kernel.changes.map(\.description) == ["delete 1"])
        #expect(reconciler.actedHeals[Self.a1] == 1)
    }

    @Test func aCrashBetweenTheDeleteAndTheAddIsMadeGoodByTheNextStart() throws {
        let rig = ReconcilerRig()
        let reconciler = try rig.reconciler(try ReconcilerRig.policy(a2: "active"))
        #expect(reconciler.reconcile(trigger: "start"))
        #expect(reconciler.reconcile(trigger: "health", health: Self.view(.down)))
        #expect(reconciler.reconcile(trigger: "health", health: Self.view(.up, heals: 1)))
        // The pass that adds it never comes (the daemon died): the kernel and the record lack it alike.
        #expect(rig.table == ["2 10.0.2.1 subflow"])
        #expect(try rig.record().endpoints == [OwnedEndpoint(id: 2, address: IPAddress("10.0.2.1")!)])
        let restarted = try rig.restarted().reconciler(try ReconcilerRig.policy(a2: "active"))
        #expect(restarted.reconcile(trigger: "start"))
        #expect(Set(rig.table) == ["1 10.0.1.1 subflow", "2 10.0.2.1 subflow"])
        #expect(try rig.record().endpoints.count == 2)
    }
}
