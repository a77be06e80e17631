import NIOConcurrencyHelpers
import Logging
import Metrics
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Reads `mptcp_pm` events on a thread of its own and hands each batch to the
/// manager at once (no hop through the service's loop: a subflow is asked for
/// within microseconds of the event).
final class EventWatcher: WatcherThread, @unchecked Sendable {
    private let subscription: EventSubscription
    private let handler: @Sendable ([EventNotice]) -> Void

    init(subscription: EventSubscription, logger: Logger, handler: @escaping @Sendable ([EventNotice]) -> Void) {
        self.subscription = subscription
        self.handler = handler
        super.init(what: "the MPTCP event thread", name: "mptcpctld-event", logger: logger)
    }

    override func step() {
        do {
            // After a loss, the queue is drained first: the resync that follows then
            // sees every connection whose events the kernel dropped.
            let notices = try subscription.next(timeoutMilliseconds: 200, drainAfterLoss: true)
            if !notices.isEmpty { handler(notices) }
        } catch {
            logger.error("reading MPTCP events failed; resynchronising", metadata: ["error": "\(error)"])
            handler([.eventsLost])
            usleep(200_000)
        }
    }
}
