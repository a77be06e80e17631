/// One path (interface × family) as mptcpctld's health thread judges it, for
/// `doctor` (the CLI asks the daemon's `paths`; this library does not speak the API).
public struct PathHealthFact: Hashable, Sendable {
    public var interface: String
    /// `ipv4` or `ipv6`.
    public var family: String
    /// `unknown`, `up`, `degraded` or `down`.
    public var state: String
    /// The smoothed probe RTT in milliseconds, once a probe was answered.
    public var rttMilliseconds: Double?
    /// Lost percent of the last judged probes.
    public var lossPercent: Int?
    /// The evidence of the last transition (why it is in this state), if any.
    public var evidence: String?
    /// `withdraw` or `backup`: what the daemon does with the path while it is down.
    public var onPathDown: String

    public init(interface: String, family: String, state: String, rttMilliseconds: Double? = nil, lossPercent: Int? = nil,
                evidence: String? = nil, onPathDown: String = "withdraw") {
        self.interface = interface
        self.family = family
        self.state = state
        self.rttMilliseconds = rttMilliseconds
        self.lossPercent = lossPercent
        self.evidence = evidence
        self.onPathDown = onPathDown
    }

    /// `eth1/ipv4`, as the daemon names paths.
    public var name: String { "\(interface)/\(family)" }

    /// Carries packets: every state but `down` (`unknown` is not judged yet).
    public var isUsable: Bool { state != "down" }
}
