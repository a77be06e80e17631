/// The kernel's view of one path's subflows at one instant, built by the
/// daemon from each subflow's `tcp_info` (sock_diag) on the path.
public struct PassiveSample: Hashable, Sendable {
    /// Subflows on the path.
    public var subflows: Int
    /// Of which established.
    public var established: Int
    /// Sum of `tcpi_bytes_acked` over the subflows: growth between two samples
    /// is ack progress, the path's proof of carrying data both ways.
    public var bytesAcked: UInt64
    /// Sum of `tcpi_bytes_received` over the subflows: growth proves the way in
    /// only, so it counts as proof of life once it lasted (`PathHealth.passive`).
    public var bytesReceived: UInt64
    /// Largest `tcpi_backoff` (RTO doublings) over the subflows.
    public var maxBackoff: Int
    /// Whether any subflow has unacknowledged data in flight.
    public var hasUnackedData: Bool
    /// Time since the last ACK was received, least over the subflows with
    /// unacknowledged data (`tcpi_last_ack_recv`); nil when none has any.
    public var lastAckAge: Duration?
    /// Whether a connection with an established subflow on the path has data
    /// in flight at the MPTCP level and moves it (`TrafficReading.isInFlight`,
    /// `ConnectionProgress`): not evidence
    /// of the path's health, but what steering weighs before closing the
    /// path's subflows (`PathHealthView.Verdict.inFlight`).
    public var connectionsInFlight: Bool

    public init(subflows: Int, established: Int, bytesAcked: UInt64, bytesReceived: UInt64 = 0, maxBackoff: Int,
                hasUnackedData: Bool, lastAckAge: Duration?, connectionsInFlight: Bool = false) {
        self.subflows = subflows
        self.established = established
        self.bytesAcked = bytesAcked
        self.bytesReceived = bytesReceived
        self.maxBackoff = maxBackoff
        self.hasUnackedData = hasUnackedData
        self.lastAckAge = lastAckAge
        self.connectionsInFlight = connectionsInFlight
    }
}
