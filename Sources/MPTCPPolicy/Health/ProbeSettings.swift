/// `[probe]` and `[[interface]] probe = { ... }`: how the health of a path
/// (interface × family) is judged from active probes (`mptcpctld.toml(5)`, [probe]).
///
/// Durations are whole milliseconds, as elsewhere in the policy.
///
/// Why the defaults (interval 400 ms, loss 3, adaptive timeout): a blackholed
/// path must be `down` within 1.5 s (issue 14, p95). A probe is lost when its
/// timeout expires, and `down` needs `loss` lost probes in a row. In the worst
/// case the blackhole starts just as an answer arrives (the probe was sent one
/// RTT earlier), so the next probe leaves `interval − rtt` later and the
/// `loss`-th lost one leaves `loss·interval − rtt` after the blackhole; it is
/// declared lost one timeout after that:
///
///     worst detection = loss·interval − rtt + timeout
///                     = 3·400 ms − rtt + (srtt + max(1 ms, 4·rttvar), at least 50 ms)
///
/// On a steady path (rttvar small) the timeout is ~max(50 ms, rtt), so the worst
/// case is ~1.25 s, and the best ~0.85 s (the blackhole phase is uniform over
/// one interval, so p95 ≈ 1.23 s). The target holds while 4·rttvar stays under
/// ~300 ms. Probe timeouts do not back off while the path is up or degraded
/// (see `PathHealth`): doubling after each loss would make the third probe's
/// timeout 4·RTO, adding 3·RTO to the worst case, past 1.5 s as soon as the
/// RTO exceeds ~100 ms. Probing costs one packet per interval per path: 2.5 packets/s.
public struct ProbeSettings: Hashable, Sendable, Codable {
    /// Where probes go; resolved per path by the daemon (`ProbeTarget`). Empty:
    /// no active probing, passive evidence only.
    public var targets: [ProbeTarget] = [.gateway, .peers]
    /// Time between two probes of one path (at most one probe per interval).
    public var intervalMilliseconds: Int = 400
    /// `timeout`: nil for `"adaptive"` (RFC 6298 from the measured RTT, `RTTEstimator`).
    public var timeoutMilliseconds: Int? = nil
    /// `loss`: lost probes in a row that make the path `down`.
    public var loss: Int = 3
    /// `max_rtt`: a smoothed RTT above this makes the path `degraded`; nil: not judged.
    public var maxRTTMilliseconds: Int? = nil
    /// `max_loss`: percent of the last 10 probes lost above which the path is `degraded`; nil: not judged.
    public var maxLossPercent: Int? = nil
    /// `recover_hold`: how long a `degraded` path's figures must stay good before it is `up` again.
    /// A `down` path whose probes answer again is `up` at once (see `PathHealth`).
    public var recoverHoldMilliseconds: Int = 2000
    /// `on_path_down`: what steering does with a `down` path.
    public var onPathDown: OnPathDown = .withdraw
    /// `mode`: `off` stops probing (and health judgement) for the paths concerned.
    public var mode: Mode = .on

    /// Intervals below this are refused: probing faster costs packets for no
    /// useful gain (detection is bounded by `loss`·interval anyway).
    public static let intervalFloorMilliseconds = 100
    /// Longest accepted interval.
    public static let intervalCeilingMilliseconds = 600_000
    /// Accepted fixed timeouts (`timeout = "300ms"`).
    public static let timeoutRangeMilliseconds = 10...60_000
    /// Accepted `loss` counts.
    public static let lossRange = 1...100
    /// The probes `max_loss` and `lossPercent` look at.
    public static let lossWindow = 10

    public init() {}

    /// The interval as a `Duration`.
    public var interval: Duration { .milliseconds(intervalMilliseconds) }
    /// The recover hold as a `Duration`.
    public var recoverHold: Duration { .milliseconds(recoverHoldMilliseconds) }
    /// `max_rtt` as a `Duration`.
    public var maxRTT: Duration? { maxRTTMilliseconds.map { .milliseconds($0) } }
    /// The longest a probe timeout may get: `interval·loss`, the time `loss` probes take.
    public var timeoutCeiling: Duration { .milliseconds(intervalMilliseconds * loss) }

    /// `on_path_down`.
    public enum OnPathDown: String, Hashable, Sendable, Codable, CaseIterable {
        /// The path's address is withdrawn from connections (RM_ADDR travels a live path).
        case withdraw
        /// The path's subflows are set backup.
        case backup
    }

    /// `mode`.
    public enum Mode: String, Hashable, Sendable, Codable, CaseIterable {
        case on, off
    }
}
