import MPTCPKit

/// What steering knows of path health at one pass: each judged path's state,
/// what `on_path_down` says for it, and the evidence of its last transition.
/// A path missing from the view counts as `unknown` (healthy): a daemon
/// without probing steers exactly as before.
///
/// Written by the daemon's health thread, read by the planners
/// (`Planner.desiredEndpoints`, the connection engine, the routing planner)
/// as one immutable value per pass.
public struct PathHealthView: Hashable, Sendable {
    /// One path's verdict.
    public struct Verdict: Hashable, Sendable {
        public var state: PathHealthState
        public var onPathDown: ProbeSettings.OnPathDown
        /// Why it is in this state ("3 probes to 10.1.1.1 lost in a row"), for plan reasons and logs.
        public var evidence: String
        /// How many times the path has left `down` since the health thread
        /// started (counted by the daemon's `HealthBoard`): the heal as an event,
        /// which a consumer compares with the count it last acted on (`healed(since:)`),
        /// so no heal is missed between two passes nor acted on twice.
        public var heals: Int
        /// A `down` path only: a connection with an established subflow on it
        /// has data in flight (the daemon's last passive reading). Its subflows
        /// are then not closed yet (`PathSteering`): the kernel has already
        /// moved their data to the other paths (stale subflows), and a close
        /// now, by us or by the peer on our RM_ADDR, would make it re-send the
        /// connection's whole unacknowledged window a second time.
        public var inFlight: Bool
        /// The path's round trip to a far target now (`PathHealth.farRoundTrip`);
        /// nil when none answered.
        public var roundTrip: Duration?

        public init(state: PathHealthState, onPathDown: ProbeSettings.OnPathDown = .withdraw, evidence: String = "",
                    heals: Int = 0, inFlight: Bool = false, roundTrip: Duration? = nil) {
            self.state = state
            self.onPathDown = onPathDown
            self.evidence = evidence
            self.heals = heals
            self.inFlight = inFlight
            self.roundTrip = roundTrip
        }
    }

    public var paths: [PathKey: Verdict]

    public init(paths: [PathKey: Verdict] = [:]) { self.paths = paths }

    /// No health known: every path counts as healthy.
    public static let none = PathHealthView()

    /// The state of `key`; `unknown` when the view has no verdict for it.
    public func state(of key: PathKey) -> PathHealthState { paths[key]?.state ?? .unknown }

    /// Each judged path's heal count, for a consumer to remember as acted on
    /// (merged into what it remembers: a path gone from the view keeps its count).
    public var heals: [PathKey: Int] { paths.mapValues(\.heals) }

    /// The paths that healed (left `down`) since a consumer last acted, by the
    /// counts it acted on (`acted`; a path missing counts 0), and are not `down`
    /// again now. Their subflows, kept through the outage (`on_path_down =
    /// "backup"`, or the last path of a family), have a retransmission timer
    /// backed off for as long as it lasted: the consumer rebuilds them (the
    /// userspace PM destroys and re-creates them, the in-kernel PM's endpoint is
    /// replaced) rather than wait for their next retransmission.
    public func healed(since acted: [PathKey: Int]) -> Set<PathKey> {
        Set(paths.filter { key, verdict in verdict.heals > (acted[key] ?? 0) && verdict.state != .down }.keys)
    }

    /// How long after deleting the endpoints of the healed paths `replaced`
    /// (the in-kernel PM's failback, `Planner.replace`) to add them again. The
    /// delete sends RM_ADDR over another path of the family, behind its data;
    /// a subflow that joins again with the same address id (id 0 from a
    /// connection's initial address) before the peer took it would be closed
    /// by it. That path's round trip to a far target bounds its queue: the
    /// wait is the largest round trip of the family's other paths not `down`,
    /// plus `readdMargin`, within `readdFloor`...`readdCeiling`; the ceiling
    /// when one of them has no far round trip known (or there is none).
    ///
    /// Measured on the realistic lab (50 Mbit/s uplinks, 50 ms queues): a
    /// transfer busy at the heal pauses 0.4-0.5 s with a 300 ms wait (the
    /// closed subflow's data re-sent over the other path alone meanwhile), not
    /// at all with 100 ms.
    public func readdDelay(replacing replaced: Set<PathKey>) -> Duration {
        let families = Set(replaced.map(\.family))
        let others = paths.filter { key, verdict in
            families.contains(key.family) && !replaced.contains(key) && verdict.state != .down
        }
        guard !others.isEmpty else { return Self.readdCeiling }
        var longest = Duration.zero
        for verdict in others.values {
            guard let rtt = verdict.roundTrip else { return Self.readdCeiling }
            longest = Swift.max(longest, rtt)
        }
        return Swift.min(Swift.max(longest + Self.readdMargin, Self.readdFloor), Self.readdCeiling)
    }

    /// Added to the round trip: the peer's processing, and a queue growing since the last sample.
    public static let readdMargin = Duration.milliseconds(30)
    /// The shortest wait.
    public static let readdFloor = Duration.milliseconds(50)
    /// The longest wait, and the wait when the other paths' round trips are unknown.
    public static let readdCeiling = Duration.milliseconds(300)
}
