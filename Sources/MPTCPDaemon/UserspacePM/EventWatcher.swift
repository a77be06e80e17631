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
/// within microseconds of the event). Under the userspace path manager it also
/// runs the manager's timers: the next wake-up is its read timeout.
final class EventWatcher: WatcherThread, @unchecked Sendable {
    /// The userspace path manager's wake-ups: in how many ms the next is due
    /// (nil: none), and what to run then.
    struct Timers: Sendable {
        var millisecondsToWake: @Sendable () -> Int?
        var fire: @Sendable () -> Void
    }

    private let subscription: EventSubscription
    private let handler: @Sendable ([EventNotice]) -> Void
    private let timers: Timers?

    init(subscription: EventSubscription, logger: Logger, timers: Timers? = nil,
         handler: @escaping @Sendable ([EventNotice]) -> Void) {
        self.subscription = subscription
        self.handler = handler
        self.timers = timers
        super.init(what: "the MPTCP event thread", name: "mptcpctld-event", logger: logger)
    }

    override func step() {
        // At most 200 ms, so `join` is noticed.
        var timeout: Int32 = 200
        if let timers, let wake = timers.millisecondsToWake() {
            if wake <= 0 { timers.fire() } else { timeout = Int32(min(200, wake)) }
        }
        do {
            // After a loss, the queue is drained first: the resync that follows then
            // sees every connection whose events the kernel dropped.
            let notices = try subscription.next(timeoutMilliseconds: timeout, drainAfterLoss: true)
            if !notices.isEmpty { handler(notices) }
        } catch {
            logger.error("reading MPTCP events failed; resynchronising", metadata: ["error": "\(error)"])
            handler([.eventsLost])
            usleep(200_000)
        }
    }
}
