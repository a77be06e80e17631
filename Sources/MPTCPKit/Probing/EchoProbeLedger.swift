/// The echo probes one socket has in flight, and the rule deciding which
/// received message answers which of them (pure: `EchoProbeSocket` does the I/O).
///
/// A message answers a probe only when it carries the socket's identifier and
/// the sequence of a probe still in flight, and either is an echo reply from
/// that probe's target, or an error (from any router) quoting a request to that
/// target. Each probe is answered once; everything else (other sockets' and
/// `ping`'s replies, duplicates, replies from another address) is dropped.
struct EchoProbeLedger {
    let identifier: UInt16
    /// The oldest unanswered probes are forgotten beyond this many (their answers then drop).
    let limit: Int
    private(set) var inFlight: [UInt16: (target: IPAddress, sentAt: ContinuousClock.Instant)] = [:]

    init(identifier: UInt16, limit: Int = 256) {
        self.identifier = identifier
        self.limit = limit
    }

    /// A probe left: a sequence still in flight is replaced.
    mutating func sent(sequence: UInt16, to target: IPAddress, at instant: ContinuousClock.Instant) {
        inFlight[sequence] = (target, instant)
        if inFlight.count > limit, let oldest = inFlight.min(by: { $0.value.sentAt < $1.value.sentAt }) {
            inFlight[oldest.key] = nil
        }
    }

    /// The answer `received` (from `sender`, read at `instant`) is to one of the probes, if any.
    mutating func answer(_ received: ICMPEchoMessage.Received?, from sender: IPAddress,
                         at instant: ContinuousClock.Instant) -> ProbeReply? {
        guard let received, received.identifier == identifier, let probe = inFlight[received.sequence] else { return nil }
        switch received.kind {
        case .echoReply:
            guard sender == probe.target else { return nil }
        case .unreachable, .timeExceeded:
            guard received.quotedDestination == probe.target else { return nil }
        }
        inFlight[received.sequence] = nil
        return ProbeReply(from: sender, sequence: received.sequence, kind: received.kind, roundTrip: instant - probe.sentAt)
    }

    mutating func forgetAll() { inFlight = [:] }
}
