import Foundation
import Glibc
import Logging
import MPTCPKit
import MPTCPPolicy
@testable import MPTCPDaemon

/// A routing owner on a fake routing kernel: links a1 (index 2, 10.0.1.1/24,
/// gateway 10.0.1.254 by a main-table default route) and a2 (index 3,
/// 10.0.2.1/24, gateway 10.0.2.254 by a default route of a higher metric), with
/// their connected routes; its ownership record in a directory of its own, its
/// log and events kept for the test.
final class RoutingRig: @unchecked Sendable {
    let routing: FakeRouting
    var network: NetworkSnapshot
    let directory: String
    let store: OwnershipStore
    let log = LogCapture()
    let hub = EventHub()
    let events: EventHub.Subscriber

    init(routing: FakeRouting? = nil, directory: String? = nil) {
        self.routing = routing ?? Self.uplinks()
        self.directory = directory ?? ReconcilerRig.temporaryDirectory()
        network = ReconcilerRig.network(addresses: ["10.0.1.1": 2, "10.0.2.1": 3])
        store = OwnershipStore(directory: self.directory, namespace: .current)
        events = EventHub.Subscriber(kinds: [.action], capacity: 1000, wake: {})
        hub.add(events)
    }

    /// The same kernel and record after a restart.
    func restarted() -> RoutingRig {
        let rig = RoutingRig(routing: routing, directory: directory)
        rig.network = network
        return rig
    }

    static func address(_ text: String) -> IPAddress { IPAddress(text) ?? .v4([0, 0, 0, 0]) }

    /// Two uplinks as a distribution leaves them, rp_filter strict on a1.
    static func uplinks() -> FakeRouting {
        let routing = FakeRouting()
        for (index, net, gateway, metric) in [(Int32(2), "10.0.1", "10.0.1.254", UInt32(100)), (3, "10.0.2", "10.0.2.254", 200)] {
            routing.insert(Route(family: 2, table: Route.tableMain, destination: address(net + ".0"), destinationPrefixLength: 24,
                                 outputInterface: index, preferredSource: address(net + ".1"), scope: Route.scopeLink,
                                 routingProtocol: RoutingProtocol.kernel))
            routing.insert(Route(family: 2, table: Route.tableMain, destination: nil, destinationPrefixLength: 0,
                                 gateway: address(gateway), outputInterface: index, routingProtocol: RoutingProtocol.boot, metric: metric))
        }
        routing.reversePathFilters = ["a1": 1, "a2": 2, "lo": 0]
        return routing
    }

    /// a1 active, a2 backup, routing as `routing` says (`[routing]` keys, or nothing for the defaults).
    static func policy(routing extra: String = "", onExit: String = "remove") throws -> Policy {
        try PolicyLoader.load("""
            [kernel]
            path_manager = "kernel"
            on_exit = "\(onExit)"
            \(extra.isEmpty ? "" : "[routing]\n" + extra)
            [[interface]]
            name = "a1"
            role = "active"
            [[interface]]
            name = "a2"
            role = "backup"
            """, file: "test.toml")
    }

    /// A routing owner reading this rig's record (as a daemon starting).
    func owner() -> RoutingOwner {
        RoutingOwner(kernel: routing.routingKernel, store: store, logger: log.logger, hub: hub)
    }

    /// The rules mptcpctld made, as `from ADDRESS table N`.
    var ownRules: [String] {
        routing.rulesTable.filter { $0.routingProtocol == RoutingProtocol.mptcpctl }
            .map { "from \($0.source.map(\.description) ?? "all") table \($0.table)" }.sorted()
    }

    /// The routes mptcpctld made.
    var ownRoutes: [Route] { routing.routesTable.filter { $0.routingProtocol == RoutingProtocol.mptcpctl } }

    /// The action events published so far, as `type interface result`.
    func actions() -> [String] {
        events.take().compactMap {
            guard case .event(let e) = $0 else { return nil }
            return "\(e.type) \(e.fields["interface"]?.stringValue ?? "-") \(e.fields["result"]?.stringValue ?? "-")"
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}
