import MPTCPKit

/// A subflow the peer reset for a cause: a `sub_closed` event carrying an
/// MP_TCPRST reason other than "unspecified" (Linux puts that one on aborts and
/// on connections torn down). The kernel sends `sub_closed` only while the
/// connection is established, so the connection goes on without it.
///
/// The in-kernel path manager never opens such a subflow again: it marks an
/// endpoint used in a connection once and does not retry it, so the connection
/// runs without that path for the rest of its life, and a blackhole of its other
/// path then stalls it for the whole outage. (The userspace path manager's
/// engine retries a failed subflow with its backoff.) Linux 6.18 resets a fresh
/// join this way now and then: the receiver finds two data sequence mappings over
/// the same bytes (its MIB `DSSNotMatching`) and answers "MPTCP-specific error";
/// more often when other work runs on the host at the moment of the join.
public struct LostSubflow: Equatable, Sendable {
    public var token: UInt32
    public var local: AddressAndPort
    public var remote: AddressAndPort
    public var reason: SubflowResetReason
    /// The peer's "T" flag: it deems the cause temporary.
    public var transient: Bool
    /// This host is the connection's server side: the peer opened the subflow and
    /// decides whether to open it again.
    public var serverSide: Bool

    /// Nil unless `event` is a `sub_closed` with a token, both addresses and a
    /// reset reason other than "unspecified" (a missing port reads 0).
    public init?(_ event: Event) {
        guard event.type == .subflowClosed, let reason = event.subflowResetReason, reason != .unspecified,
              let token = event.token, let l = event.localAddress, let r = event.remoteAddress else { return nil }
        self.token = token
        local = AddressAndPort(address: l, port: event.localPort ?? 0)
        remote = AddressAndPort(address: r, port: event.remotePort ?? 0)
        self.reason = reason
        transient = event.resetIsTransient
        serverSide = event.isServerSide
    }
}
