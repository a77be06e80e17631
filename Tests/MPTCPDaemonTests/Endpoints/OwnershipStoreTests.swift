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
}
