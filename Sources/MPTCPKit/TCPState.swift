/// The TCP state of a socket as sock_diag reports it (`include/net/tcp_states.h`),
/// named as `ss` names them, in lowercase (`established`, `syn-sent`, `fin-wait-1`, …).
/// Unknown numbers are kept, so a newer kernel's state is shown rather than dropped.
public struct TCPState: RawRepresentable, Hashable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public var rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The kernel's number (`1` = established).
    public init(integerLiteral value: UInt8) { rawValue = value }

    public static let established = TCPState(rawValue: 1)
    public static let synSent = TCPState(rawValue: 2)
    public static let synReceived = TCPState(rawValue: 3)
    public static let finWait1 = TCPState(rawValue: 4)
    public static let finWait2 = TCPState(rawValue: 5)
    public static let timeWait = TCPState(rawValue: 6)
    public static let close = TCPState(rawValue: 7)
    public static let closeWait = TCPState(rawValue: 8)
    public static let lastAck = TCPState(rawValue: 9)
    public static let listen = TCPState(rawValue: 10)
    public static let closing = TCPState(rawValue: 11)
    public static let newSynReceived = TCPState(rawValue: 12)

    /// Index = state number; ss's spelling, except `established` in full.
    private static let names = ["unknown", "established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2", "time-wait",
                                "close", "close-wait", "last-ack", "listen", "closing", "new-syn-recv", "bound-inactive"]

    /// `established`, `syn-sent`, …; `state-N` for a number this version does not know.
    public var name: String {
        Int(rawValue) < Self.names.count && rawValue != 0 ? Self.names[Int(rawValue)] : "state-\(rawValue)"
    }

    public var description: String { name }

    /// Whether a subflow in this state carries traffic: only an established one
    /// does. The one definition the CLI, the control API, the metrics and the
    /// path manager all use (a subflow in `syn-sent` is a join not yet answered).
    public var carriesTraffic: Bool { self == .established }

    /// Whether the handshake is still under way (`syn-sent`, `syn-recv`): a
    /// subflow asked for and not yet answered, neither working nor failed.
    public var isHandshaking: Bool { self == .synSent || self == .synReceived || self == .newSynReceived }
}
