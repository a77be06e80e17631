/// Passive evidence: the kernel's view of the path's subflows.
extension PathHealth {
    /// How long the subflows with unacknowledged data must have had no ACK
    /// for a passive `down`: max(3·srtt, 1 s). Three round trips are more than
    /// any delayed ACK or queueing pause; the 1 s floor keeps a short path from
    /// being judged on the kernel's 200 ms minimum RTO alone.
    public var stallAfter: Duration {
        Swift.max((estimator.srtt ?? .zero) * 3, .seconds(1))
    }

    /// Takes one passive sample at `now`.
    ///
    /// - Ack progress (the subflows' `bytes_acked` grew since the previous
    ///   sample) is proof of life: it lifts `down` at once, and vetoes a
    ///   probe-only `down` for the current run of losses.
    /// - A stall (unacknowledged data, no ACK for `stallAfter`, and the kernel
    ///   has backed its RTO off at least twice: two retransmissions went
    ///   unanswered) makes the path `down`, unless a probe was answered in time
    ///   since that last ACK.
    public mutating func passive(_ sample: PassiveSample, at now: Duration) -> [PathTransition] {
        let previous = lastBytesAcked
        lastBytesAcked = sample.bytesAcked
        if let previous, sample.bytesAcked > previous {
            lastProgressAt = now
            if state == .down {
                return leaveDown(at: now, since: now, evidence: "ack progress on the path's subflows (\(sample.bytesAcked - previous) bytes acked)")
            }
            if state == .unknown { state = .up }
            return []
        }
        guard state != .down, sample.hasUnackedData, let age = sample.lastAckAge, age >= stallAfter,
              sample.maxBackoff >= 2 else { return [] }
        // A probe answered since the last ACK vetoes the passive down.
        if let answer = lastAnswerAt, answer >= now - age { return [] }
        downCause = .passive
        let evidence = "subflows stalled: unacknowledged data, no ACK for \(Self.format(age)), "
            + "RTO backed off \(sample.maxBackoff) times (\(sample.established) of \(sample.subflows) subflows established)"
        return [move(to: .down, at: now, evidence: evidence)]
    }
}
