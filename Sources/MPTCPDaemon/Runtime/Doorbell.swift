import NIOConcurrencyHelpers

/// Why the endpoint thread should run a pass; several may pile up while one runs.
struct Pending: OptionSet, Sendable {
    let rawValue: Int
    static let network = Pending(rawValue: 1)
    static let reload = Pending(rawValue: 2)
    static let resync = Pending(rawValue: 4)
    static let lost = Pending(rawValue: 8)
    static let retry = Pending(rawValue: 16)
    /// A path's health changed (`HealthBoard`): steer with the new verdicts.
    static let health = Pending(rawValue: 32)
    /// Graceful shutdown: the endpoint thread ends its loop and applies `on_exit`.
    static let stop = Pending(rawValue: 128)
}

/// The endpoint thread's mailbox: producers on other threads (the interface
/// watcher, the MPTCP event thread, the control API, SIGHUP, shutdown) set bits
/// and ring; the endpoint thread waits for a ring or its next deadline and
/// takes all bits at once, so triggers that pile up during a pass coalesce.
final class Doorbell: @unchecked Sendable {
    /// 1 while bits are pending, 0 otherwise.
    private let condition = ConditionLock(value: 0)
    /// Guarded by `condition`.
    private var pending: Pending = []

    /// The longest a timed wait lasts before its deadline is checked again (s).
    static let longestWait = 1.0

    func ring(_ why: Pending) {
        condition.lock()
        pending.formUnion(why)
        condition.unlock(withValue: 1)
    }

    /// Blocks the calling thread until a ring or `deadline` (nil: none);
    /// returns the bits rung, empty when the deadline came first. A wait
    /// lasts at most `longestWait` seconds: the condition variable times on
    /// the wall clock (NIO's ConditionLock uses CLOCK_REALTIME), which may be
    /// stepped back, so the caller re-checks its monotonic deadlines at least
    /// that often instead of sleeping an hour late.
    func wait(until deadline: ContinuousClock.Instant?) -> Pending {
        if let deadline {
            let left = (deadline - .now).components
            let seconds = Double(left.seconds) + Double(left.attoseconds) / 1e18
            guard condition.lock(whenValue: 1, timeoutSeconds: min(max(seconds, 0), Self.longestWait)) else { return [] }
        } else {
            condition.lock(whenValue: 1)
        }
        let taken = pending
        pending = []
        condition.unlock(withValue: 0)
        return taken
    }
}
