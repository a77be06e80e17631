/// What the MPTCP subflows leaving from one local address carry at one
/// instant: the `tcp_info` figures of those subflows, summed as they are read
/// (so a reader of the connection table can keep one of these per address of
/// interest instead of the subflows themselves). Two values for the addresses
/// of one path add up to the path's figures (`add(_:)`).
public struct AddressTraffic: Hashable, Sendable {
    /// Subflows on the address, in any state.
    public var subflows = 0
    /// Of which established (`TCPState.carriesTraffic`).
    public var established = 0
    /// Sum of `tcpi_bytes_acked` over the subflows (wrapping): our data the
    /// peer acknowledged. Growth between two readings proves a round trip.
    public var bytesAcked: UInt64 = 0
    /// Sum of `tcpi_bytes_received` over the subflows (wrapping): data from
    /// the peer. Growth proves only the way in (a peer keeps sending for up to
    /// a window after our ACKs stopped reaching it, and its FIN counts one).
    public var bytesReceived: UInt64 = 0
    /// Largest `tcpi_backoff` (RTO doublings) over the subflows with unacknowledged
    /// data past their handshake; 0 when none.
    public var maxBackoff: UInt8 = 0
    /// Whether any subflow has unacknowledged data in flight (`TCPInfo.hasUnackedData`).
    public var hasUnackedData = false
    /// Least `tcpi_last_ack_recv` (ms ago) over the subflows with unacknowledged
    /// data; nil when none has any (or none reports it).
    public var lastAckAgeMilliseconds: UInt32?
    /// Whether an established subflow on the address belongs to a connection
    /// with data in flight at the MPTCP level (`TrafficReading.isInFlight`;
    /// with a `ConnectionProgress`, only while the connection moves data):
    /// closing such a subflow, or removing its address, would make the kernel
    /// (this host's or the peer's) re-send that connection's whole
    /// unacknowledged window over the other subflows.
    public var carriesConnectionInFlight = false

    /// No subflow yet.
    public init() {}

    /// Counts one subflow: its TCP state as sock_diag reports it and its
    /// `tcp_info` (nil when the dump carried none: then it counts as a subflow
    /// and by its state only). The stall figures (unacknowledged data, back-off,
    /// last ACK) come from subflows past their handshake with data in flight: a
    /// join whose SYN goes unanswered (a peer address this path cannot reach)
    /// says nothing about the data the path carries.
    /// `connectionInFlight`: whether the subflow's connection has data in
    /// flight (`carriesConnectionInFlight`, counted for established subflows only).
    public mutating func add(state: TCPState, tcpInfo info: TCPInfo?, connectionInFlight: Bool = false) {
        subflows += 1
        if state.carriesTraffic {
            established += 1
            if connectionInFlight { carriesConnectionInFlight = true }
        }
        guard let info else { return }
        bytesAcked = bytesAcked &+ (info.bytesAcked ?? 0)
        bytesReceived = bytesReceived &+ (info.bytesReceived ?? 0)
        guard info.hasUnackedData, state != .synSent, state != .synReceived, state != .newSynReceived else { return }
        maxBackoff = max(maxBackoff, info.backoff)
        hasUnackedData = true
        if let age = info.lastAckReceivedMilliseconds { lastAckAgeMilliseconds = min(lastAckAgeMilliseconds ?? age, age) }
    }

    /// Adds the figures of another address (of the same path).
    public mutating func add(_ other: AddressTraffic) {
        subflows += other.subflows
        established += other.established
        bytesAcked = bytesAcked &+ other.bytesAcked
        bytesReceived = bytesReceived &+ other.bytesReceived
        maxBackoff = max(maxBackoff, other.maxBackoff)
        hasUnackedData = hasUnackedData || other.hasUnackedData
        carriesConnectionInFlight = carriesConnectionInFlight || other.carriesConnectionInFlight
        if let age = other.lastAckAgeMilliseconds { lastAckAgeMilliseconds = min(lastAckAgeMilliseconds ?? age, age) }
    }
}
