import Foundation
import MPTCPKit
import MPTCPPolicy
import Testing

/// What the daemon records about the namespace-wide settings it changes, and
/// how it gives them back; and that under the userspace path manager it wants
/// no in-kernel endpoint.
@Suite struct PlannerSettingsAndUserspaceTests {
    static let found = KernelSettingsSnapshot(pathManager: "kernel", scheduler: "default", limits: Limits(subflows: 2, addAddrAccepted: 0))

    @Test func recordingKeepsTheFirstValueFoundAndTheLastValueSet() {
        var record = SettingsRecord()
        record = Planner.recording(.pathManager(from: "kernel", to: "userspace"), in: record)
        record = Planner.recording(.limits(from: Limits(subflows: 2, addAddrAccepted: 0), to: Limits(subflows: 4, addAddrAccepted: 0)), in: record)
        #expect(record.pathManager == ChangedSetting(found: "kernel", set: "userspace"))
        #expect(record.subflows == ChangedSetting(found: 2, set: 4))
        #expect(record.addAddrAccepted == nil, "a limit left as found is not recorded")
        // A reload changes it again: what was found before the first change stays.
        record = Planner.recording(.limits(from: Limits(subflows: 4, addAddrAccepted: 0), to: Limits(subflows: 6, addAddrAccepted: 0)), in: record)
        #expect(record.subflows == ChangedSetting(found: 2, set: 6))
        // Taken back to what was found: nothing left to restore.
        record = Planner.recording(.pathManager(from: "userspace", to: "kernel"), in: record)
        #expect(record.pathManager == nil)
    }

    @Test func restoringGivesBackWhatIsStillAsTheDaemonSetItAndLeavesTheRest() {
        var record = SettingsRecord()
        record.pathManager = ChangedSetting(found: "kernel", set: "userspace")
        record.scheduler = ChangedSetting(found: "default", set: "redundant")
        record.subflows = ChangedSetting(found: 2, set: 4)
        record.addAddrAccepted = ChangedSetting(found: 0, set: 8)
        // The scheduler and add_addr_accepted were changed by someone else since.
        let current = KernelSettingsSnapshot(pathManager: "userspace", scheduler: "other", limits: Limits(subflows: 4, addAddrAccepted: 3))
        let (changes, leftAlone) = Planner.restoring(record, current: current)
        #expect(changes == [
            .pathManager(from: "userspace", to: "kernel"),
            .limits(from: Limits(subflows: 4, addAddrAccepted: 3), to: Limits(subflows: 2, addAddrAccepted: 3)),
        ])
        #expect(leftAlone.count == 2)
        #expect(leftAlone.contains { $0.contains("net.mptcp.scheduler is other") })
        #expect(leftAlone.contains { $0.contains("add_addr_accepted limit is 3") })
        #expect(Planner.restoring(SettingsRecord(), current: current).changes.isEmpty)
    }

    @Test func theRecordSurvivesItsJSONForm() throws {
        var record = SettingsRecord()
        record.pathManager = ChangedSetting(found: "kernel", set: "userspace")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(record)
        #expect(String(decoding: data, as: UTF8.self) == #"{"path_manager":{"found":"kernel","set":"userspace"}}"#)
        #expect(try JSONDecoder().decode(SettingsRecord.self, from: data) == record)
    }

    @Test func theUserspacePathManagerWantsNoInKernelEndpointAndDropsOwnedOnes() {
        var world = World()
        let eth = world.link("eth0")
        world.add("10.1.1.1", on: eth)
        var policy = Policy(interfaces: [rule(["eth*"], .active, position: 1)])
        policy.kernel.pathManager = "userspace"
        let fresh = Planner.plan(policy: policy, network: world.snapshot, endpoints: [], owned: [])
        #expect(fresh.changes.isEmpty, "\(fresh.changes)")
        #expect(fresh.skipped.map(\.reason) == ["eth0 is used per connection by the userspace path manager, which needs no in-kernel endpoint"])

        // Endpoints it added under the in-kernel path manager go; foreign ones stay.
        let mine = Endpoint(id: 1, address: IPAddress("10.1.1.1")!, flags: .subflow, interfaceIndex: eth)
        let foreign = Endpoint(id: 2, address: IPAddress("10.9.9.9")!, flags: .signal)
        let switched = Planner.plan(policy: policy, network: world.snapshot, endpoints: [mine, foreign],
                                    owned: [OwnedEndpoint(id: 1, address: mine.address)])
        #expect(switched.changes.count == 1)
        if case .delete(let e, let why)? = switched.changes.first {
            #expect(e.id == 1 && why.contains("userspace path manager"))
        } else {
            Issue.record("expected a delete, got \(switched.changes)")
        }
        #expect(switched.foreign == [foreign])

        policy.kernel.pathManager = "kernel"
        #expect(Planner.plan(policy: policy, network: world.snapshot, endpoints: [], owned: []).changes.count == 1)
    }
}
