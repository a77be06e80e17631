import Foundation
import MPTCPKit
import MPTCPPolicy
import Testing
@testable import MPTCPDaemon

/// The ownership record: written and read back whole, atomically replaced,
/// refused when it is not one this daemon wrote.
@Suite struct OwnershipStoreTests {
    @Test func aRecordIsReadBackAsWritten() throws {
        let directory = ReconcilerRig.temporaryDirectory() + "/nested"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = OwnershipStore(directory: directory, namespace: .current)
        #expect(try store.load() == OwnershipStore.Record(), "no file yet: nothing owned")
        var record = OwnershipStore.Record()
        record.endpoints = [OwnedEndpoint(id: 3, address: IPAddress("10.0.1.1")!), OwnedEndpoint(id: 1, address: IPAddress("fd00::1")!)]
        record.settings.scheduler = ChangedSetting(found: "default", set: "redundant")
        try store.save(record)
        #expect(try store.load() == record)
        #expect(!FileManager.default.fileExists(atPath: store.path + ".tmp"), "replaced by rename, no temporary left")
        #expect(store.path.hasSuffix("/endpoints-host.json"))
    }

    @Test func aFileOfAnotherVersionOrShapeIsRefused() throws {
        let directory = ReconcilerRig.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = OwnershipStore(directory: directory, namespace: .current)
        #expect(FileManager.default.createFile(atPath: store.path, contents: Data(#"{"version": 2, "endpoints": []}"#.utf8)))
        #expect(throws: StoreError.self) { try store.load() }
        #expect(FileManager.default.createFile(atPath: store.path, contents: Data("[]".utf8)))
        #expect(throws: StoreError.self) { try store.load() }
    }

    @Test func theRoutingPartIsReadBackAndARecordWithoutItStillLoads() throws {
        let directory = ReconcilerRig.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = OwnershipStore(directory: directory, namespace: .current)
        // A record written before routing was owned.
        #expect(FileManager.default.createFile(atPath: store.path, contents: Data(#"{"version": 1, "endpoints": [{"id": 1, "address": "10.0.1.1"}]}"#.utf8)))
        #expect(try store.load().routing.isEmpty)
        var record = try store.load()
        record.routing.tables = ["a1": 20001]
        record.routing.rules = [OwnedRule(RoutingRule(from: IPAddress("10.0.1.1")!, table: 20001, priority: 10001))]
        record.routing.reversePathFilter = ["a1": 1]
        try store.save(record)
        #expect(try OwnershipStore(directory: directory, namespace: .current).load() == record)
        let text = try String(contentsOfFile: store.path, encoding: .utf8)
        #expect(text.contains(#""version" : 1"#), "still version 1: an older daemon reads its own members")
    }

    @Test func eachPartIsUpdatedWithoutLosingTheOther() throws {
        let directory = ReconcilerRig.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = OwnershipStore(directory: directory, namespace: .current)
        try store.update { $0.routing.tables = ["a1": 20001] }
        try store.update { $0.endpoints = [OwnedEndpoint(id: 1, address: IPAddress("10.0.1.1")!)] }
        let record = try OwnershipStore(directory: directory, namespace: .current).load()
        #expect(record.routing.tables == ["a1": 20001] && record.endpoints.count == 1)
    }
}
