/// One change of a path's health, with the evidence that made it: logged,
/// counted, published on `subscribe` and passed to hooks by the daemon.
public struct PathTransition: Hashable, Sendable, Codable {
    public var key: PathKey
    public var from: PathHealthState
    public var to: PathHealthState
    /// When, on the caller's monotonic time line (see `PathHealth`).
    public var at: Duration
    /// Why, for people: "3 probes lost in a row (last answer 1.3 s ago)".
    public var evidence: String
    /// The smoothed probe RTT at the time, when measured.
    public var rttMilliseconds: Double?
    /// Lost percent of the last 10 probes at the time, when any was judged.
    public var lossPercent: Int?

    public init(key: PathKey, from: PathHealthState, to: PathHealthState, at: Duration, evidence: String,
                rttMilliseconds: Double? = nil, lossPercent: Int? = nil) {
        self.key = key
        self.from = from
        self.to = to
        self.at = at
        self.evidence = evidence
        self.rttMilliseconds = rttMilliseconds
        self.lossPercent = lossPercent
    }
}
