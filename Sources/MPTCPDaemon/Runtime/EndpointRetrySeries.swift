import MPTCPPolicy

/// When a pass whose endpoint changes were refused is tried again: with
/// backoff (1 s doubling to 60 s, 8 retries, about 3 minutes), then not until
/// the network or the policy changes or the next resync, so a lasting refusal
/// is neither hammered nor retried forever (the reconciler logs each refusal
/// once). State only, no clock of its own: the endpoint thread owns it, hands
/// it the time, and waits for `retryAt`.
struct EndpointRetrySeries {
    static let policy = RetryPolicy(initialMilliseconds: 1000, maximumMilliseconds: 60_000, attempts: 8)

    /// What `settle` decided, for the log.
    enum Outcome: Equatable {
        /// The pass went through: the series is over.
        case settled
        /// A retry in `milliseconds`, the `attempt`-th of the series.
        case retry(milliseconds: Int, attempt: Int)
        /// A retry was already on its way.
        case alreadyPending
        /// The first failed pass past the last retry (said once per series).
        case exhausted(failedPasses: Int)
        /// Past that: nothing more to say or do.
        case givenUp
    }

    private(set) var failedPasses = 0
    /// When the pending retry is due (nil: none).
    private(set) var retryAt: ContinuousClock.Instant?

    /// Something changed (network, policy, lost notifications): a refused
    /// change deserves a fresh series of retries.
    mutating func restart() { failedPasses = 0 }

    /// The pending retry's time has come (its pass runs now).
    mutating func retryDue() { retryAt = nil }

    /// After a pass, at `now`.
    mutating func settle(reconciled: Bool, now: ContinuousClock.Instant) -> Outcome {
        if reconciled {
            failedPasses = 0
            return .settled
        }
        failedPasses += 1
        if retryAt != nil { return .alreadyPending }
        if Self.policy.allowsRetry(after: failedPasses) {
            let delay = Self.policy.delay(attempt: failedPasses, jitter: 0)
            retryAt = now + .milliseconds(delay)
            return .retry(milliseconds: delay, attempt: failedPasses)
        }
        return Self.policy.allowsRetry(after: failedPasses - 1) ? .exhausted(failedPasses: failedPasses) : .givenUp
    }
}
