import NIOConcurrencyHelpers
import FoundationEssentials
import Logging
import Metrics
import MPTCPKit
import MPTCPPolicy
import ServiceLifecycle
import Synchronization
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

/// Reads rtnetlink notifications on a thread of its own (blocking reads stay off
/// the concurrency pool) and rings the doorbell for each batch.
final class NetworkWatcher: WatcherThread, @unchecked Sendable {
    private let monitor: NetworkMonitor
    private let doorbell: Doorbell
    private let deaf: Bool

    init(monitor: NetworkMonitor, doorbell: Doorbell, logger: Logger, deaf: Bool = false) {
        self.monitor = monitor
        self.doorbell = doorbell
        self.deaf = deaf
        super.init(what: "the interface watcher thread", name: "mptcpctld-link", logger: logger)
    }

    override func step() {
        do {
            let notices = try monitor.next(timeoutMilliseconds: 200)
            if deaf { return }
            if notices.contains(.lost) { doorbell.ring(.lost) } else if !notices.isEmpty { doorbell.ring(.network) }
        } catch {
            logger.error("reading interface changes failed; retrying", metadata: ["error": "\(error)"])
            doorbell.ring(.lost)
            usleep(200_000)
        }
    }
}
