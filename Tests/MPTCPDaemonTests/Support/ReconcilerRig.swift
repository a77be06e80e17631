import Foundation
import Glibc
import Logging
import MPTCPKit
import MPTCPPolicy
@testable import MPTCPDaemon

/// A reconciler on a fake kernel, with its ownership record in a directory of
/// its own and its log and events kept for the test.
final class ReconcilerRig: @unchecked Sendable {
    let kernel: FakeKernel
    let directory: String
    let store: OwnershipStore
    let log = LogCapture()
    let hub = EventHub()
    let events: EventHub.Subscriber

    /// Links a1 (index 2) and a2 (index 3), up, with one IPv4 address each.
    init(kernel: FakeKernel = FakeKernel(), directory: String? = nil) {
        self.kernel = kernel
        self.directory = directory ?? Self.temporaryDirectory()
        store = OwnershipStore(directory: self.directory, namespace: .current)
        events = EventHub.Subscriber(kinds: [.action], capacity: 1000, wake: {})
        hub.add(events)
        if kernel.network.links.isEmpty {
            kernel.network = Self.network(addresses: ["10.0.1.1": 2, "10.0.2.1": 3])
        }
    }

    /// A second rig on the same kernel and record: the daemon after a restart.
    func restarted() -> ReconcilerRig { ReconcilerRig(kernel: kernel, directory: directory) }

    static func temporaryDirectory() -> String {
        var template = Array("/tmp/mptcpctld-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { return "/tmp/mptcpctld-test-\(getpid())" }
        return String(cString: made)
    }

    /// Links a1 (2) and a2 (3), up; `addresses`: address → link index.
    static func network(addresses: [String: Int32]) -> NetworkSnapshot {
        let links = [Link(index: 2, name: "a1", flags: 0x1, operState: .up), Link(index: 3, name: "a2", flags: 0x1, operState: .up)]
        let addrs = addresses.sorted { $0.key < $1.key }.compactMap { text, index in
            IPAddress(text).map { InterfaceAddress(address: $0, prefixLength: 24, interfaceIndex: index) }
        }
        return NetworkSnapshot(links: links, addresses: addrs, defaultRoutes: [])
    }

    /// a1 active, a2 backup; limits and the rest as given.
    static func policy(a1: String = "active", a2: String = "backup", onExit: String = "remove",
                       kernel extra: String = "limits = { subflows = 8, add_addr_accepted = 8 }") throws -> Policy {
        try PolicyLoader.load("""
            [kernel]
            path_manager = "kernel"
            \(extra)
            on_exit = "\(onExit)"
            [[interface]]
            name = "a1"
            role = "\(a1)"
            [[interface]]
            name = "a2"
            role = "\(a2)"
            """, file: "test.toml")
    }

    func reconciler(_ policy: Policy) throws -> Reconciler {
        try Reconciler(policies: PolicyStore(policy), kernel: kernel.endpointKernel, store: store, logger: log.logger, hub: hub)
    }

    /// The ownership record on disk.
    func record() throws -> OwnershipStore.Record { try store.load() }

    /// The endpoint table as `id address flags`.
    var table: [String] { kernel.table.map { "\($0.id) \($0.address) \($0.flags.names.joined(separator: ","))" } }

    /// The action events published so far, as `type address result`.
    func actions() -> [String] {
        events.take().compactMap {
            guard case .event(let e) = $0 else { return nil }
            return "\(e.type) \(e.fields["address"]?.stringValue ?? "-") \(e.fields["result"]?.stringValue ?? "-")"
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}
