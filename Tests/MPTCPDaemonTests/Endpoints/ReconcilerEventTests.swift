import MPTCPAPI
import MPTCPKit
import MPTCPPolicy
@testable import MPTCPDaemon
import Testing

/// The endpoint events say what the log says: a refusal with the kernel's words,
/// a flag change with the flags it replaced.
@Suite struct ReconcilerEventTests {
    func published(_ rig: ReconcilerRig) -> [DaemonEvent] {
        rig.events.take().compactMap { if case .event(let e) = $0 { e } else { nil } }
    }

    @Test func aRefusedChangeCarriesTheKernelsErrorAndADoneOneNone() throws {
        let rig = ReconcilerRig()
        rig.kernel.refuse(FakeKernel.duplicate("add endpoint 10.0.1.1"), times: 1) {
            if case .add(_, "10.0.1.1", _) = $0 { true } else { false }
        }
        let reconciler = try rig.reconciler(try ReconcilerRig.policy())
        _ = reconciler.reconcile(trigger: "start")
        let events = published(rig)
        let refused = try #require(events.first { $0.fields["address"] == "10.0.1.1" })
        #expect(refused.fields["result"] == "refused" && refused.fields["error"]?.stringValue?.contains("duplicate") == true,
                "\(refused.text)")
        #expect(events.first { $0.fields["address"] == "10.0.2.1" }?.fields["error"] == nil)
    }

    @Test func aFlagChangeSaysWhatItReplaced() throws {
        let rig = ReconcilerRig()
        #expect(try rig.reconciler(try ReconcilerRig.policy()).reconcile(trigger: "start"))
        _ = published(rig)
        let restarted = rig.restarted()
        #expect(try restarted.reconciler(try ReconcilerRig.policy(a1: "backup")).reconcile(trigger: "reload"))
        let changed = try #require(published(restarted).first { $0.type == "endpoint_set_flags" })
        #expect(changed.fields["address"] == "10.0.1.1" && changed.fields["flags"] == "subflow,backup" && changed.fields["was"] == "subflow",
                "\(changed.text)")
    }

    @Test func aRestartPublishesTheEndpointsItAdoptsAndAForeignOneLeftAlone() throws {
        let rig = ReconcilerRig()
        #expect(try rig.reconciler(try ReconcilerRig.policy()).reconcile(trigger: "start"))
        try rig.kernel.addEndpoint(Endpoint(id: 42, address: IPAddress("10.0.60.1")!, flags: .signal))
        let restarted = rig.restarted()
        let reconciler = try restarted.reconciler(try ReconcilerRig.policy())
        let adopted = try #require(published(restarted).first)
        #expect(adopted.type == "endpoints_adopted" && adopted.fields["count"] == 2, "\(adopted.text)")
        #expect(adopted.fields["endpoints"] == ["1:10.0.1.1", "2:10.0.2.1"])
        #expect(reconciler.reconcile(trigger: "start"))
        let foreign = published(restarted).filter { $0.type == "foreign_endpoint" }
        #expect(foreign.map(\.text) == ["[ACTION foreign_endpoint] flags=signal address=10.0.60.1 id=42"])
        #expect(reconciler.reconcile(trigger: "resync"))
        #expect(published(restarted).isEmpty, "said once, when it appears")
    }

    @Test func aRefusalNoLongerPlannedIsPublishedAsCleared() throws {
        let rig = ReconcilerRig()
        let reconciler = try rig.reconciler(try ReconcilerRig.policy())
        #expect(reconciler.reconcile(trigger: "start"))
        rig.kernel.network = ReconcilerRig.network(addresses: ["10.0.1.1": 2, "10.0.2.1": 3, "10.0.81.1": 2])
        rig.kernel.beforeEach = { request throws(MPTCPError) in
            if case .add(_, "10.0.81.1", _) = request { rig.kernel.insert(Endpoint(id: 60, address: IPAddress("10.0.81.1")!, flags: .signal)) }
        }
        #expect(!reconciler.reconcile(trigger: "network"))
        rig.kernel.beforeEach = nil
        _ = published(rig)
        #expect(reconciler.reconcile(trigger: "retry"))
        let cleared = published(rig).filter { $0.type == "endpoint_refusal_cleared" }
        #expect(cleared.map(\.fields) == [["change": "add 10.0.81.1 subflow", "refusals": 1]], "\(cleared.map(\.text))")
    }
}
