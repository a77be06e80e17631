import Logging
import MPTCPKit
import MPTCPPolicy
import Testing
@testable import MPTCPDaemon

/// The services a pass hands the health view to, on fake kernels: the
/// reconciler (in-kernel PM), the routing owner and the userspace path manager
/// act on a down path and give everything back when it heals.
@Suite struct HealthSteeringServiceTests {
    static func view(_ name: String, _ state: PathHealthState, onPathDown: ProbeSettings.OnPathDown = .withdraw) -> PathHealthView {
        PathHealthView(paths: [PathKey(interface: name, family: .ipv4):
            PathHealthView.Verdict(state: state, onPathDown: onPathDown, evidence: "3 probes to 10.0.1.254 lost in a row")])
    }

    @Test func theReconcilerDeletesADownPathsEndpointAndAddsItBackWhenItHeals() throws {
        let rig = ReconcilerRig()
        let reconciler = try rig.reconciler(try ReconcilerRig.policy(a2: "active"))
        #expect(reconciler.reconcile(trigger: "start"))
        #expect(rig.table == ["1 10.0.1.1 subflow", "2 10.0.2.1 subflow"])
        _ = rig.actions()
        #expect(reconciler.reconcile(trigger: "health", health: Self.view("a1", .down)))
        #expect(rig.table == ["2 10.0.2.1 subflow"])
        #expect(rig.actions() == ["endpoint_delete 10.0.1.1 ok"])
        let deleted = rig.log.lines("deleted endpoint").first?.metadata["reason"] ?? ""
        #expect(deleted.hasPrefix("a1/ipv4 is down: 3 probes to 10.0.1.254 lost in a row; withdrawn"), "\(deleted)")
        #expect(!(try rig.record().endpoints.contains { $0.address == "10.0.1.1" }), "no longer owned: nothing to give back")
        #expect(reconciler.reconcile(trigger: "health", health: Self.view("a1", .up)))
        #expect(Set(rig.table) == ["1 10.0.1.1 subflow", "2 10.0.2.1 subflow"], "restored at once: the kernel re-creates its subflows")
    }

    @Test func theReconcilerSetsADownPathsEndpointBackupWithOnPathDownBackup() throws {
        let rig = ReconcilerRig()
        let reconciler = try rig.reconciler(try ReconcilerRig.policy(a2: "active"))
        #expect(reconciler.reconcile(trigger: "start"))
        #expect(reconciler.reconcile(trigger: "health", health: Self.view("a1", .down, onPathDown: .backup)))
        #expect(rig.table == ["1 10.0.1.1 subflow,backup", "2 10.0.2.1 subflow"], "the id and its subflows survive")
        #expect(reconciler.reconcile(trigger: "health"))
        #expect(rig.table == ["1 10.0.1.1 subflow", "2 10.0.2.1 subflow"])
    }

    @Test func theRoutingOwnerAddsTheInitialPathRuleWhileMainsDefaultPathIsDownAndRemovesItOnHealing() throws {
        let rig = RoutingRig()
        let owner = rig.owner()
        let policy = try RoutingRig.policy()
        #expect(owner.reconcile(policy: policy, network: rig.network, trigger: "start"))
        let before = rig.ownRules
        let table = owner.owned.tables["a2"] ?? 0
        #expect(owner.reconcile(policy: policy, network: rig.network, health: Self.view("a1", .down), trigger: "health"))
        #expect(rig.ownRules == (before + ["from all table \(table)"]).sorted(), "\(rig.ownRules)")
        #expect(rig.routing.rulesTable.contains { $0.source == nil && $0.table == table && $0.priority == 7399 })
        #expect(rig.log.lines("source route: from all lookup \(table) priority 7399 (a2)").count == 1, "\(rig.log.lines.map(\.message))")
        #expect(try rig.store.load().routing.rules.contains { $0.source == nil && $0.table == table }, "recorded before made")
        #expect(owner.reconcile(policy: policy, network: rig.network, health: Self.view("a1", .up), trigger: "health"))
        #expect(rig.ownRules == before)
        #expect(try rig.store.load().routing == owner.owned && !owner.owned.rules.contains { $0.source == nil && $0.table == table })
    }

    @Test func withRoutingOffTheOwnerOnlySaysWhatItWouldDo() throws {
        let rig = RoutingRig()
        let owner = rig.owner()
        let policy = try RoutingRig.policy(routing: "mode = \"off\"")
        #expect(owner.reconcile(policy: policy, network: rig.network, health: Self.view("a1", .down), trigger: "health"))
        #expect(rig.ownRules.isEmpty)
        #expect(owner.notes.contains { $0.contains("[routing] mode = \"off\": with mode = \"on\", new connections would start on a2") },
                "\(owner.notes)")
    }
}
