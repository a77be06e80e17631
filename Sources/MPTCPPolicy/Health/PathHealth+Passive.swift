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
    ///   sample) is proof of life: it lifts `down` at once, and forgives the
    ///   lost probes sent before the previous sample less one smoothed RTT.
    /// - Data received (`bytes_received` grew) proves only the way in: a peer
    ///   sends up to a window after our ACKs stopped reaching it, and its FIN
    ///   counts one byte. It is proof of life once every sample for
    ///   `stallAfter` has shown more (a download), which a peer cut off from
    ///   our ACKs cannot keep up.
    /// - A stall (unacknowledged data, no ACK for `stallAfter`, and the kernel
    ///   has backed its RTO off at least twice: two retransmissions went
    ///   unanswered) makes the path `down`, unless a probe was answered in time
    ///   since that last ACK.
    public mutating func passive(_ sample: PassiveSample, at now: Duration) -> [PathTransition] {
        let previousSampleAt = lastSampleAt
        lastSampleAt = now
        if let proof = progress(sample, at: now) {
            // What arrived since the previous sample may have been sent (our data
            // acked, the peer's data) up to a round trip before it, queued at a
            // router: the path is proven to work only then. Data that drained
            // from a router's queue after the path went dark proves nothing later.
            let moment = (previousSampleAt ?? now) - (estimator.srtt ?? .zero)
            provenAlive(at: moment)
            if state == .down {
                // Proof of a moment before the failure (ACKs that arrived
                // before it, read after a long gap) does not lift it.
                if let failed = failedSince, moment <= failed { return [] }
                return leaveDown(at: now, since: now, evidence: proof)
            }
            if state == .unknown { state = .up }
            return []
        }
        guard state != .down, sample.hasUnackedData, let age = sample.lastAckAge, age >= stallAfter,
              sample.maxBackoff >= 2 else { return [] }
        // A probe answered since the last ACK vetoes the passive down.
        if let answer = lastAnswerAt, answer >= now - age { return [] }
        downCause = .passive
        failedSince = now - age
        let evidence = "subflows stalled: unacknowledged data, no ACK for \(Self.format(age)), "
            + "RTO backed off \(sample.maxBackoff) times (\(sample.established) of \(sample.subflows) subflows established)"
        return [move(to: .down, at: now, evidence: evidence)]
    }

    /// Takes the sample's byte counts; the proof of life they give, if any.
    ///
    /// The sums are compared only between two samples of the same subflows (as
    /// many, as many established): a subflow that joins, closes or is missing
    /// from one dump changes the sum without a byte moving (a subflow's
    /// handshake alone counts one byte acked). Such a sample sets a new baseline.
    private mutating func progress(_ sample: PassiveSample, at now: Duration) -> String? {
        let sameSubflows = lastSubflows.map { $0 == (sample.subflows, sample.established) } ?? false
        let acked = sameSubflows ? lastBytesAcked : nil, received = sameSubflows ? lastBytesReceived : nil
        lastBytesAcked = sample.bytesAcked
        lastBytesReceived = sample.bytesReceived
        lastSubflows = (sample.subflows, sample.established)
        // From the first sample that showed more, not the one before: one sample
        // that grew after a long gap (the idle reading's 1 s) is one arrival, a FIN perhaps.
        if let received, sample.bytesReceived > received {
            receivingSince = receivingSince ?? now
        } else {
            receivingSince = nil
        }
        if let acked, sample.bytesAcked > acked {
            return "ack progress on the path's subflows (\(sample.bytesAcked - acked) bytes acked)"
        }
        if let since = receivingSince, now - since >= stallAfter {
            return "data received on the path's subflows without a pause for \(Self.format(now - since))"
        }
        return nil
    }
}
