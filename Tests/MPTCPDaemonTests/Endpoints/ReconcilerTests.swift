import Foundation
import MPTCPKit
import MPTCPPolicy
import Testing
@testable import MPTCPDaemon

/// The reconciler on a fake kernel: what it asks the kernel, what it records as
/// its own, and what it leaves alone.
@Suite struct ReconcilerTests {
    private func addresses(_ record: OwnershipStore.Record) -> Set<String> { Set(record.endpoints.map(\.address)) }

    @Test func aPlanIsAppliedAndEveryAddedEndpointIsRecordedAsOwned() throws {
        let rig = ReconcilerRig()
        let reconciler = try rig.reconciler(try ReconcilerRig.policy())
        #expect(reconciler.reconcile(trigger: "start"))
        #expect(rig.table == ["1 10.0.1.1 subflow", "2 10.0.2.1 subflow,backup"])
        #expect(try rig.record().endpoints == Set(rig.kernel.table.map { OwnedEndpoint(id: $0.id, address: $0.address) }))
        #expect(reconciler.owned == (try rig.record().endpoints))
        #expect(rig.actions() == ["endpoint_add 10.0.1.1 ok", "endpoint_add 10.0.2.1 ok"])
        rig.kernel.clearRequests()
        #expect(reconciler.reconcile(trigger: "resync"))
        #expect(rig.kernel.changes.isEmpty, "a converged kernel gets no request that changes it")
    }

    @Test func aRefusedAddChangesNothingElseAndIsNotRecordedAsOwned() throws {
        let rig = ReconcilerRig()
        rig.kernel.refuse(FakeKernel.duplicate("add endpoint 10.0.1.1"), times: 2) {
            if case .add(_, "10.0.1.1", _) = $0 { true } else { false }
        }
        let reconciler = try rig.reconciler(try ReconcilerRig.policy())
        #expect(!reconciler.reconcile(trigger: "start"), "a refused change makes the pass fail (the caller retries)")
        #expect(rig.table == ["2 10.0.2.1 subflow,backup"], "the other change went through, nothing else changed")
        #expect(addresses(try rig.record()) == ["10.0.2.1"], "the refused endpoint is not recorded as owned")
        #expect(reconciler.owned == (try rig.record().endpoints))
        #expect(rig.actions() == ["endpoint_add 10.0.1.1 refused", "endpoint_add 10.0.2.1 ok"])
        #expect(!reconciler.reconcile(trigger: "retry"))
        let refused = rig.log.lines("kernel refused an endpoint change")
        #expect(refused.count == 1 && refused.first?.metadata["address"] == "10.0.1.1", "logged once as an error")
        #expect(rig.log.lines("kernel refused an endpoint change again").first?.metadata["refusals"] == "2")
        #expect(reconciler.reconcile(trigger: "retry"), "the third try goes through")
        #expect(rig.log.lines("an endpoint change refused before went through").first?.metadata["refusals"] == "2")
        #expect(addresses(try rig.record()) == ["10.0.1.1", "10.0.2.1"])
    }

    @Test func endpointsRecordedByAnEarlierRunAreAdoptedNotAddedAgain() throws {
        let first = ReconcilerRig()
        #expect(try first.reconciler(try ReconcilerRig.policy()).reconcile(trigger: "start"))
        let table = first.table
        // SIGKILL: no exit handling; the next run starts from the record.
        let second = first.restarted()
        second.kernel.clearRequests()
        let reconciler = try second.reconciler(try ReconcilerRig.policy())
        #expect(second.log.lines("adopting endpoints recorded by an earlier run").first?.metadata["count"] == "2")
        #expect(reconciler.reconcile(trigger: "start"))
        #expect(second.kernel.changes.isEmpty, "nothing added again: \(second.kernel.changes)")
        #expect(second.table == table)
        reconciler.removeOwned()
        #expect(second.table.isEmpty, "adopted endpoints are given back at exit like its own")
    }

    @Test func aCrashBetweenTheRecordWriteAndTheAddLeavesNothingBehindAfterRestart() throws {
        let rig = ReconcilerRig()
        var atCrash: (record: OwnershipStore.Record, table: [Endpoint])?
        // The closure holds the rig: cleared at the end so the rig (and its directory) goes.
        defer { rig.kernel.beforeEach = nil }
        rig.kernel.beforeEach = { request throws(MPTCPError) in
            if case .add(_, "10.0.2.1", _) = request, atCrash == nil { atCrash = (try? rig.record()).map { ($0, rig.kernel.table) } }
        }
        #expect(try rig.reconciler(try ReconcilerRig.policy()).reconcile(trigger: "start"))
        let crash = try #require(atCrash)
        #expect(addresses(crash.record) == ["10.0.1.1", "10.0.2.1"], "recorded before the add")
        #expect(crash.table.map(\.address.description) == ["10.0.1.1"], "the add not made yet")

        // The daemon dies there: a new run finds that record and that table.
        let kernel = FakeKernel(endpoints: crash.table)
        let restarted = ReconcilerRig(kernel: kernel)
        try restarted.store.save(crash.record)
        let reconciler = try restarted.reconciler(try ReconcilerRig.policy())
        #expect(reconciler.reconcile(trigger: "start"))
        #expect(restarted.log.lines("forgot endpoints that are gone from the kernel").count == 1)
        #expect(restarted.table == ["1 10.0.1.1 subflow", "2 10.0.2.1 subflow,backup"], "no address twice")
        #expect(try restarted.record().endpoints == Set(kernel.table.map { OwnedEndpoint(id: $0.id, address: $0.address) }))
    }

    @Test func endpointsOthersMadeAreNeverTouchedNotEvenAtExit() throws {
        let kernel = FakeKernel(endpoints: [
            Endpoint(id: 50, address: IPAddress("10.0.1.1")!, flags: .signal),
            Endpoint(id: 60, address: IPAddress("10.0.9.9")!, flags: .subflow),
        ])
        let rig = ReconcilerRig(kernel: kernel)
        let reconciler = try rig.reconciler(try ReconcilerRig.policy(a1: "backup", a2: "off"))
        #expect(reconciler.reconcile(trigger: "start"))
        #expect(kernel.changes.isEmpty, "the foreign endpoint on a1's address keeps its flags: \(kernel.changes)")
        #expect(Set(rig.log.lines("foreign endpoint left alone").compactMap { $0.metadata["id"] }) == ["50", "60"])
        reconciler.removeOwned()
        #expect(rig.table == ["50 10.0.1.1 signal", "60 10.0.9.9 subflow"])
        #expect(kernel.changes.isEmpty)
    }

    @Test func onExitRemovesExactlyTheEndpointsThisDaemonAdded() throws {
        let rig = ReconcilerRig()
        let reconciler = try rig.reconciler(try ReconcilerRig.policy())
        #expect(reconciler.reconcile(trigger: "start"))
        rig.kernel.insert(Endpoint(id: 60, address: IPAddress("10.0.9.9")!, flags: .signal))
        reconciler.removeOwned()
        #expect(rig.table == ["60 10.0.9.9 signal"])
        #expect(try rig.record().endpoints.isEmpty)
        #expect(rig.log.lines("removed endpoint at exit").count == 2)
    }

    @Test func deletingAnEndpointAlreadyGoneCountsAsDoneAndForgetsIt() throws {
        let rig = ReconcilerRig()
        #expect(try rig.reconciler(try ReconcilerRig.policy()).reconcile(trigger: "start"))
        let restarted = rig.restarted()
        let reconciler = try restarted.reconciler(try ReconcilerRig.policy(a2: "off"))
        rig.kernel.clearRequests()
        // Someone deletes it between the plan and the delete.
        // The closure holds the rig: cleared at the end so the rig (and its directory) goes.
        defer { rig.kernel.beforeEach = nil }
        rig.kernel.beforeEach = { request throws(MPTCPError) in
            if case .delete(let id) = request { rig.kernel.removeEndpoint(id: id) }
        }
        #expect(reconciler.reconcile(trigger: "reload"))
        #expect(rig.table == ["1 10.0.1.1 subflow"])
        #expect(addresses(try rig.record()) == ["10.0.1.1"])
        #expect(rig.kernel.changes == [.delete(id: 2)])
        #expect(restarted.log.lines("deleted endpoint").first?.metadata["address"] == "10.0.2.1")
        #expect(restarted.log.lines("kernel refused an endpoint change").isEmpty, "not a refusal")
    }

    @Test func anAddressTakenByAnotherEndpointMidPassIsRefusedOnceThenNoLongerNeeded() throws {
        let rig = ReconcilerRig()
        let reconciler = try rig.reconciler(try ReconcilerRig.policy())
        #expect(reconciler.reconcile(trigger: "start"))
        rig.kernel.network = ReconcilerRig.network(addresses: ["10.0.1.1": 2, "10.0.2.1": 3, "10.0.81.1": 2])
        rig.kernel.beforeEach = { request throws(MPTCPError) in
            if case .add(_, "10.0.81.1", _) = request { rig.kernel.insert(Endpoint(id: 60, address: IPAddress("10.0.81.1")!, flags: .signal)) }
        }
        #expect(!reconciler.reconcile(trigger: "network"))
        rig.kernel.beforeEach = nil
        #expect(rig.log.lines("kernel refused an endpoint change").first?.metadata["error"]?.contains("duplicate") == true)
        #expect(reconciler.reconcile(trigger: "retry"))
        #expect(rig.log.lines("a refused endpoint change is no longer needed").count == 1)
        #expect(rig.kernel.table.first { $0.id == 60 }?.flags == .signal, "the other endpoint is left alone")
        #expect(!addresses(try rig.record()).contains("10.0.81.1"))
        reconciler.removeOwned()
        #expect(rig.table == ["60 10.0.81.1 signal"], "the daemon removed exactly its own")
    }

    @Test func anEndpointMadeForAnAddressThatVanishedMidPassIsDeletedNextPass() throws {
        let rig = ReconcilerRig()
        let reconciler = try rig.reconciler(try ReconcilerRig.policy())
        #expect(reconciler.reconcile(trigger: "start"))
        rig.kernel.network = ReconcilerRig.network(addresses: ["10.0.1.1": 2, "10.0.2.1": 3, "10.0.82.1": 2])
        // The closure holds the rig: cleared at the end so the rig (and its directory) goes.
        defer { rig.kernel.beforeEach = nil }
        rig.kernel.beforeEach = { request throws(MPTCPError) in
            if case .add(_, "10.0.82.1", _) = request {
                rig.kernel.network = ReconcilerRig.network(addresses: ["10.0.1.1": 2, "10.0.2.1": 3])
            }
        }
        #expect(reconciler.reconcile(trigger: "network"))
        #expect(reconciler.reconcile(trigger: "network"))
        #expect(!rig.table.contains { $0.contains("10.0.82.1") })
        #expect(!addresses(try rig.record()).contains("10.0.82.1"), "not recorded as owned")
        #expect(rig.log.lines("deleted endpoint").map { $0.metadata["address"] } == ["10.0.82.1"])
    }

    @Test func anUnreadableRecordIsSetAsideAndItsEndpointsAreLeftAlone() throws {
        let rig = ReconcilerRig()
        try FileManager.default.createDirectory(atPath: rig.directory, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: rig.store.path, contents: Data("{not json".utf8)))
        rig.kernel.insert(Endpoint(id: 1, address: IPAddress("10.0.9.9")!, flags: .subflow))
        let reconciler = try rig.reconciler(try ReconcilerRig.policy())
        #expect(FileManager.default.fileExists(atPath: rig.store.path + ".damaged"))
        #expect(reconciler.owned.isEmpty)
        #expect(reconciler.reconcile(trigger: "start"))
        #expect(rig.kernel.changes.allSatisfy { if case .add = $0 { true } else { false } }, "\(rig.kernel.changes)")
    }
}
