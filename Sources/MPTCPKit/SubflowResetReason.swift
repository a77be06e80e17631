/// Why a peer reset a subflow: the reason code of the MP_TCPRST option it sent
/// (RFC 8684 section 3.6), as the kernel reports it in `sub_closed`
/// (`MPTCP_ATTR_RESET_REASON`, `Event.resetReason`).
public struct SubflowResetReason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// 0: no reason given; Linux puts it on every other reset (an abort, a connection torn down).
    public static let unspecified = Self(rawValue: 0)
    /// 1: an MPTCP-specific error. Linux's receiver sends it for a data sequence
    /// mapping it cannot accept (MIB `DSSNotMatching`, `DSSTcpMismatch`).
    public static let mptcpError = Self(rawValue: 1)
    /// 2: lack of resources.
    public static let lackOfResources = Self(rawValue: 2)
    /// 3: administratively prohibited: Linux refuses a join this way when its
    /// subflow limit is reached or the connection takes no more subflows (a
    /// refusal at the join's handshake reaches the client's `sub_closed`
    /// without a reason, as seen on 6.18).
    public static let administrativelyProhibited = Self(rawValue: 3)
    /// 4: too much outstanding data.
    public static let tooMuchOutstandingData = Self(rawValue: 4)
    /// 5: unacceptable performance.
    public static let unacceptablePerformance = Self(rawValue: 5)
    /// 6: middlebox interference (Linux: a DSS checksum that failed).
    public static let middleboxInterference = Self(rawValue: 6)

    /// A metric label: `mptcp_error`, `lack_of_resources`, `administratively_prohibited`,
    /// `too_much_outstanding_data`, `unacceptable_performance`, `middlebox_interference`,
    /// `unspecified`, or `reason_N` for a code RFC 8684 does not name.
    public var name: String {
        switch self {
        case .unspecified: "unspecified"
        case .mptcpError: "mptcp_error"
        case .lackOfResources: "lack_of_resources"
        case .administrativelyProhibited: "administratively_prohibited"
        case .tooMuchOutstandingData: "too_much_outstanding_data"
        case .unacceptablePerformance: "unacceptable_performance"
        case .middleboxInterference: "middlebox_interference"
        default: "reason_\(rawValue)"
        }
    }

    /// RFC 8684's wording: "MPTCP-specific error", ..., or "reason N".
    public var description: String {
        switch self {
        case .unspecified: "unspecified"
        case .mptcpError: "MPTCP-specific error"
        case .lackOfResources: "lack of resources"
        case .administrativelyProhibited: "administratively prohibited"
        case .tooMuchOutstandingData: "too much outstanding data"
        case .unacceptablePerformance: "unacceptable performance"
        case .middleboxInterference: "middlebox interference"
        default: "reason \(rawValue)"
        }
    }
}

extension Event {
    /// The peer's MP_TCPRST reason, when the subflow closed on a reset that carried one.
    public var subflowResetReason: SubflowResetReason? { resetReason.map(SubflowResetReason.init(rawValue:)) }

    /// The MP_TCPRST "T" flag (`MPTCP_ATTR_RESET_FLAGS` bit 0): the peer deems the
    /// cause temporary and a new subflow on the same path may succeed.
    public var resetIsTransient: Bool { (resetFlags ?? 0) & 1 != 0 }
}
