/// One answer to an echo probe, matched to the probe it answers (by the echo
/// identifier and sequence, and by who answered: the target itself for an echo
/// reply, any router on the way for an error).
public struct ProbeReply: Hashable, Sendable {
    /// What came back.
    public enum Kind: Hashable, Sendable {
        /// The target answered: the path carries packets both ways.
        case echoReply
        /// Destination unreachable (ICMP type 3 / ICMPv6 type 1) with its code,
        /// from the target or from a router on the way.
        case unreachable(code: UInt8)
        /// Time exceeded (ICMP type 11 / ICMPv6 type 3): a router dropped it for its hop limit.
        case timeExceeded
    }

    /// Who answered: the target for an echo reply, else the router that reported the error.
    public var from: IPAddress
    /// The sequence of the probe this answers.
    public var sequence: UInt16
    public var kind: Kind
    /// Time from sending the probe to reading this answer (the socket's own
    /// clock; nil when the answer was built elsewhere).
    public var roundTrip: Duration?

    public init(from: IPAddress, sequence: UInt16, kind: Kind, roundTrip: Duration? = nil) {
        self.from = from
        self.sequence = sequence
        self.kind = kind
        self.roundTrip = roundTrip
    }
}
