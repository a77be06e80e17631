/// What the kernel knows of one TCP socket's progress (`struct tcp_info`,
/// include/uapi/linux/tcp.h), as sock_diag reports it for a subflow
/// (`INET_DIAG_INFO`): the evidence a passive health check reads (unacknowledged
/// data, retransmissions, RTO backoff, the age of the last ack).
///
/// The struct only grows, at its end: a field the reporting kernel's struct is
/// too short for is nil; bytes past what is decoded here are ignored. Times are
/// in microseconds (`rto`, `rtt`, `rttVariance`) or milliseconds ago
/// (`lastDataSent`...), as the kernel gives them; rates in bytes per second.
public struct TCPInfo: Hashable, Sendable {
    /// `tcpi_state`.
    public var state: TCPState
    /// `tcpi_retransmits`: retransmissions of the current unacknowledged segment (reset by an ack).
    public var retransmits: UInt8
    /// `tcpi_backoff`: how many times the RTO was doubled (exponential backoff).
    public var backoff: UInt8
    /// `tcpi_rto`, µs: the current retransmission timeout.
    public var rtoMicroseconds: UInt32?
    /// `tcpi_snd_mss`, bytes.
    public var sendMSS: UInt32?
    /// `tcpi_unacked`: segments sent and not acknowledged.
    public var unacked: UInt32?
    /// `tcpi_lost`: segments taken for lost.
    public var lost: UInt32?
    /// `tcpi_retrans`: segments retransmitted and not yet acknowledged.
    public var retrans: UInt32?
    /// `tcpi_last_data_sent`, ms ago.
    public var lastDataSentMilliseconds: UInt32?
    /// `tcpi_last_data_recv`, ms ago.
    public var lastDataReceivedMilliseconds: UInt32?
    /// `tcpi_last_ack_recv`, ms ago.
    public var lastAckReceivedMilliseconds: UInt32?
    /// `tcpi_rtt`, µs: the smoothed RTT.
    public var rttMicroseconds: UInt32?
    /// `tcpi_rttvar`, µs.
    public var rttVarianceMicroseconds: UInt32?
    /// `tcpi_snd_ssthresh`, segments (a huge value until the first loss).
    public var sendSlowStartThreshold: UInt32?
    /// `tcpi_snd_cwnd`, segments.
    public var sendCongestionWindow: UInt32?
    /// `tcpi_total_retrans`: retransmissions over the socket's life.
    public var totalRetransmissions: UInt32?
    /// `tcpi_pacing_rate`, bytes/s (Linux 3.15).
    public var pacingRate: UInt64?
    /// `tcpi_bytes_acked` (RFC 4898 tcpEStatsAppHCThruOctetsAcked; Linux 4.1).
    public var bytesAcked: UInt64?
    /// `tcpi_bytes_received` (Linux 4.1).
    public var bytesReceived: UInt64?
    /// `tcpi_min_rtt`, µs: the lowest RTT seen over a window (Linux 4.9).
    public var minRTTMicroseconds: UInt32?
    /// `tcpi_delivery_rate`, bytes/s (Linux 4.9).
    public var deliveryRate: UInt64?
    /// `tcpi_bytes_sent`, retransmissions included (Linux 4.19).
    public var bytesSent: UInt64?
    /// `tcpi_bytes_retrans` (Linux 4.19).
    public var bytesRetransmitted: UInt64?

    /// Byte offsets in `struct tcp_info` (checked against the 6.18 headers by
    /// `offsetof`; the struct has kept them since each field was added).
    enum Offset {
        static let rto = 8, sendMSS = 16, unacked = 24, lost = 32, retrans = 36, lastDataSent = 44, lastDataReceived = 52
        static let lastAckReceived = 56, rtt = 68, rttVariance = 72, sendSlowStartThreshold = 76
        static let sendCongestionWindow = 80, totalRetransmissions = 100
        static let pacingRate = 104, bytesAcked = 120, bytesReceived = 128, minRTT = 148, deliveryRate = 160, bytesSent = 200
        static let bytesRetransmitted = 208
    }

    /// A value with only the leading bytes' fields (tests and fakes set the rest).
    public init(state: TCPState, retransmits: UInt8 = 0, backoff: UInt8 = 0) {
        self.state = state
        self.retransmits = retransmits
        self.backoff = backoff
    }

    /// Decodes the kernel's little-endian `struct tcp_info` of any length from
    /// 8 bytes (the u8 fields every kernel has) on.
    init(bytes b: [UInt8]) throws(DecodeError) {
        guard b.count >= 8 else { throw DecodeError("tcp_info of \(b.count) bytes is truncated") }
        self.init(state: TCPState(rawValue: b[0]), retransmits: b[2], backoff: b[4])
        func u32(_ at: Int) -> UInt32? { b.count >= at + 4 ? readLE32(b, at) : nil }
        func u64(_ at: Int) -> UInt64? { b.count >= at + 8 ? readLE64(b, at) : nil }
        rtoMicroseconds = u32(Offset.rto)
        sendMSS = u32(Offset.sendMSS)
        unacked = u32(Offset.unacked)
        lost = u32(Offset.lost)
        retrans = u32(Offset.retrans)
        lastDataSentMilliseconds = u32(Offset.lastDataSent)
        lastDataReceivedMilliseconds = u32(Offset.lastDataReceived)
        lastAckReceivedMilliseconds = u32(Offset.lastAckReceived)
        rttMicroseconds = u32(Offset.rtt)
        rttVarianceMicroseconds = u32(Offset.rttVariance)
        sendSlowStartThreshold = u32(Offset.sendSlowStartThreshold)
        sendCongestionWindow = u32(Offset.sendCongestionWindow)
        totalRetransmissions = u32(Offset.totalRetransmissions)
        pacingRate = u64(Offset.pacingRate)
        bytesAcked = u64(Offset.bytesAcked)
        bytesReceived = u64(Offset.bytesReceived)
        minRTTMicroseconds = u32(Offset.minRTT)
        deliveryRate = u64(Offset.deliveryRate)
        bytesSent = u64(Offset.bytesSent)
        bytesRetransmitted = u64(Offset.bytesRetransmitted)
    }

    /// Data is in flight and unacknowledged (`tcpi_unacked` > 0).
    public var hasUnackedData: Bool { (unacked ?? 0) > 0 }
}
