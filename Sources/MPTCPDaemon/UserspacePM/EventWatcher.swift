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
/// within microseconds of the event). Under the userspace path manager this
/// thread owns the manager: it polls the event socket together with the
/// manager's `Mailbox` (the work other threads hand it), with the next wake-up
/// of the manager's timers as its timeout, and runs those timers.
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
    /// The owned state's mailbox, once this thread has taken it (`start`).
    private var mailbox: Mailbox?
    private let offered: Mailbox?
    /// Set on this thread once it owns `mailbox`.
    private var claimed = false

    init(subscription: EventSubscription, logger: Logger, timers: Timers? = nil, mailbox: Mailbox? = nil,
         handler: @escaping @Sendable ([EventNotice]) -> Void) {
        self.subscription = subscription
        self.handler = handler
        self.timers = timers
        offered = mailbox
        super.init(what: "the MPTCP event thread", name: "mptcpctld-event", logger: logger)
    }

    /// Takes the mailbox (work posted from now on waits for this thread), then
    /// starts the thread; without a mailbox to poll, reads with a timeout instead.
    @discardableResult
    override func start() -> Bool {
        if let offered {
            if offered.reserve() { mailbox = offered } else {
                logger.warning("no pipe for the MPTCP event thread's mailbox: the path manager's callers run it themselves")
            }
        }
        let started = super.start()
        if !started { releaseMailbox() }
        return started
    }

    /// Stops the thread; what was still posted then runs on the caller, and so does later work.
    override func join() {
        super.join()
        releaseMailbox()
    }

    override func interrupt() { mailbox?.ring() }

    private func releaseMailbox() {
        mailbox?.release()
        mailbox = nil
    }

    override func step() {
        guard let mailbox else { return readWithTimeout() }
        if !claimed {
            mailbox.claim()
            claimed = true
        }
        var poller = [pollfd(fd: subscription.fileDescriptor, events: Int16(POLLIN), revents: 0),
                      pollfd(fd: mailbox.fileDescriptor, events: Int16(POLLIN), revents: 0)]
        let ready = poll(&poller, nfds_t(poller.count), pollTimeout())
        if ready < 0 {
            let e = errno
            guard e != EINTR else { return }
            logger.error("polling the MPTCP event socket failed", metadata: ["errno": "\(e)"])
            usleep(200_000)
            return
        }
        // Events first, for latency; then what other threads posted meanwhile.
        if poller[0].revents != 0 { read(timeoutMilliseconds: 1) }
        if poller[1].revents != 0 { mailbox.runPending() }
    }

    /// Runs the timers that are due; the next one's wake-up, in ms (-1: none).
    private func pollTimeout() -> Int32 {
        guard let timers else { return -1 }
        guard var wake = timers.millisecondsToWake() else { return -1 }
        if wake <= 0 {
            timers.fire()
            guard let next = timers.millisecondsToWake() else { return -1 }
            wake = max(1, next)
        }
        return Int32(clamping: wake)
    }

    /// Without a mailbox: at most 200 ms per read, so `join` is noticed.
    private func readWithTimeout() {
        var timeout: Int32 = 200
        if let timers, let wake = timers.millisecondsToWake() {
            if wake <= 0 { timers.fire() } else { timeout = Int32(min(200, wake)) }
        }
        read(timeoutMilliseconds: timeout)
    }

    private func read(timeoutMilliseconds timeout: Int32) {
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
