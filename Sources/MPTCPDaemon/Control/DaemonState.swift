import NIOConcurrencyHelpers
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Metrics
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy
import Prometheus
import Synchronization

/// What the control API reports about the daemon: written by the service's loop
/// (start-up, reloads, reconcile passes), read by API requests on their thread.
final class DaemonState: Sendable {
    struct Snapshot: Sendable {
        var policy: Policy
        var configPath: String
        /// When the running policy was loaded (seconds since 1970).
        var loadedAt: Double
        var reloads = 0
        var owned: Set<OwnedEndpoint> = []
        /// The userspace path manager's table, when it runs.
        var manager: ConnectionManager?
    }

    private let value: NIOLockedValueBox<Snapshot>
    private let started = ContinuousClock.now

    init(policy: Policy, configPath: String) {
        value = NIOLockedValueBox(Snapshot(policy: policy, configPath: configPath, loadedAt: Date().timeIntervalSince1970))
    }

    var snapshot: Snapshot { value.withLockedValue { $0 } }
    var uptimeSeconds: Double {
        let d = ContinuousClock.now - started
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    func update(_ body: (inout Snapshot) -> Void) { value.withLockedValue { body(&$0) } }
}
