import MPTCPKit

/// A subflow's TCP figures, from the kernel's `struct tcp_info` (sock_diag's
/// `INET_DIAG_INFO`, what `ss -ti` shows): members of the subflow's object in
/// `connections`, each left out when the kernel did not report it. Times in µs
/// (`_us`) or ms ago (`_ms`), rates in bytes per second, windows in segments.
public struct SubflowFigures: Hashable, Sendable {
    public var rttMicroseconds: UInt64?
    public var rttVarianceMicroseconds: UInt64?
    public var minRTTMicroseconds: UInt64?
    public var rtoMicroseconds: UInt64?
    public var congestionWindow: UInt64?
    public var slowStartThreshold: UInt64?
    public var mss: UInt64?
    /// Bytes sent (retransmissions included), acknowledged by the peer, received.
    public var bytesSent: UInt64?
    public var bytesAcked: UInt64?
    public var bytesReceived: UInt64?
    public var bytesRetransmitted: UInt64?
    /// `tcpi_retrans`: segments retransmitted and not yet acknowledged (`ss`'s `retrans:N/…`).
    public var retransmits: UInt64?
    /// `tcpi_total_retrans`: retransmissions over the subflow's life.
    public var totalRetransmits: UInt64?
    public var unacked: UInt64?
    public var lost: UInt64?
    public var deliveryRate: UInt64?
    public var pacingRate: UInt64?
    public var lastSendMilliseconds: UInt64?
    public var lastReceiveMilliseconds: UInt64?
    public var lastAckMilliseconds: UInt64?

    /// No figures (a subflow the dump carried no `tcp_info` for).
    public init() {}

    /// The figures of the kernel's `tcp_info`.
    public init(_ info: TCPInfo) {
        rttMicroseconds = info.rttMicroseconds.map(UInt64.init)
        rttVarianceMicroseconds = info.rttVarianceMicroseconds.map(UInt64.init)
        minRTTMicroseconds = info.minRTTMicroseconds.map(UInt64.init)
        rtoMicroseconds = info.rtoMicroseconds.map(UInt64.init)
        congestionWindow = info.sendCongestionWindow.map(UInt64.init)
        slowStartThreshold = info.sendSlowStartThreshold.map(UInt64.init)
        mss = info.sendMSS.map(UInt64.init)
        bytesSent = info.bytesSent
        bytesAcked = info.bytesAcked
        bytesReceived = info.bytesReceived
        bytesRetransmitted = info.bytesRetransmitted
        retransmits = info.retrans.map(UInt64.init)
        totalRetransmits = info.totalRetransmissions.map(UInt64.init)
        unacked = info.unacked.map(UInt64.init)
        lost = info.lost.map(UInt64.init)
        deliveryRate = info.deliveryRate
        // ~0 is the kernel's "no pacing limit" (a socket before its first RTT sample), not a rate: `ss` omits it too.
        pacingRate = info.pacingRate == UInt64.max ? nil : info.pacingRate
        lastSendMilliseconds = info.lastDataSentMilliseconds.map(UInt64.init)
        lastReceiveMilliseconds = info.lastDataReceivedMilliseconds.map(UInt64.init)
        lastAckMilliseconds = info.lastAckReceivedMilliseconds.map(UInt64.init)
    }

    /// Each figure's JSON member, in the order `mptcpctl connections -v` prints them.
    /// (Computed: key paths are not Sendable, a stored table would be shared state.)
    public static var members: [(key: String, figure: WritableKeyPath<SubflowFigures, UInt64?>)] {
        [("rtt_us", \.rttMicroseconds), ("rttvar_us", \.rttVarianceMicroseconds), ("min_rtt_us", \.minRTTMicroseconds),
         ("rto_us", \.rtoMicroseconds), ("cwnd", \.congestionWindow), ("ssthresh", \.slowStartThreshold), ("mss", \.mss),
         ("bytes_sent", \.bytesSent), ("bytes_acked", \.bytesAcked), ("bytes_received", \.bytesReceived),
         ("bytes_retrans", \.bytesRetransmitted), ("retransmits", \.retransmits), ("total_retransmits", \.totalRetransmits),
         ("unacked", \.unacked), ("lost", \.lost), ("delivery_rate", \.deliveryRate), ("pacing_rate", \.pacingRate),
         ("last_send_ms", \.lastSendMilliseconds), ("last_receive_ms", \.lastReceiveMilliseconds),
         ("last_ack_ms", \.lastAckMilliseconds)]
    }

    /// Adds the reported figures to a subflow's JSON members.
    func write(into members: inout [String: JSONValue]) {
        for (key, figure) in Self.members {
            if let value = self[keyPath: figure].flatMap(jsonInteger) { members[key] = value }
        }
    }

    /// The figures among a subflow's JSON members; a member of the wrong kind is an error naming it.
    init(reading r: RecordReader) throws(RPCError) {
        for (key, figure) in Self.members { self[keyPath: figure] = try r.optionalInteger(key, as: UInt64.self) }
    }

    /// `key:value` for each reported figure, as `ss -ti` words them.
    public var words: [String] {
        Self.members.compactMap { key, figure in self[keyPath: figure].map { "\(key):\($0)" } }
    }
}

/// A figure as a JSON integer; nil (the member is left out) beyond Int64, which
/// no count reaches: only a kernel's "unlimited" ~0 would, and that is no figure.
func jsonInteger(_ value: UInt64) -> JSONValue? {
    Int64(exactly: value).map { .integer($0) }
}
