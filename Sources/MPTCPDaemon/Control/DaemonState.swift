import NIOConcurrencyHelpers
import FoundationEssentials
import Glibc
import Logging
import Metrics
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy
import Prometheus
import Synchronization

/// What the control API reports about the daemon: written by the endpoint
/// thread (reconcile passes) and start-up, read by API requests on their thread.
/// The policy, its load time and the reload count are the `PolicyStore`'s,
/// read from it with each snapshot.
final class DaemonState: Sendable {
    struct Snapshot: Sendable {
        /// The store's (`PolicyStore`), as of this snapshot.
        var policy: Policy
        var configPath: String
        /// When the running policy was loaded (seconds since 1970).
        var loadedAt: Double
        var reloads = 0
        var owned: Set<OwnedEndpoint> = []
        /// The source routing the daemon owns, and its planner's last notes.
        var routing = RoutingOwnership()
        var routingNotes: [String] = []
        /// The userspace path manager's table, when it runs.
        var manager: ConnectionManager?
        /// Path health, when the health thread runs.
        var health: HealthBoard?
    }

    private let value: NIOLockedValueBox<Snapshot>
    private let policies: PolicyStore
    private let started = ContinuousClock.now

    init(policies: PolicyStore, configPath: String) {
        self.policies = policies
        let loaded = policies.loaded
        value = NIOLockedValueBox(Snapshot(policy: loaded.policy, configPath: configPath, loadedAt: loaded.loadedAt))
    }

    var snapshot: Snapshot {
        var s = value.withLockedValue { $0 }
        let loaded = policies.loaded
        (s.policy, s.loadedAt, s.reloads) = (loaded.policy, loaded.loadedAt, loaded.reloads)
        return s
    }
    var uptimeSeconds: Double {
        let d = ContinuousClock.now - started
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    func update(_ body: (inout Snapshot) -> Void) { value.withLockedValue { body(&$0) } }
}
