/// The round-trip time of a path and the timeout of its probes, as RFC 6298
/// computes TCP's retransmission timeout.
///
/// - Before any sample: `timeout` is 1 s (RFC 6298 2.1), clamped.
/// - First sample R: srtt = R, rttvar = R/2 (2.2).
/// - Later samples: rttvar = ¾·rttvar + ¼·|srtt − R|, then srtt = ⅞·srtt + ⅛·R (2.3).
/// - timeout = clamp(srtt + max(G, 4·rttvar), `floor`, `ceiling`) with G = 1 ms
///   (the daemon's poll has millisecond granularity).
/// - `backOff()` doubles the timeout (5.5), up to `ceiling`; the next sample
///   ends the back-off (5.7).
///
/// The floor (50 ms, below TCP's 200 ms minimum RTO since a probe is one small
/// packet with no delayed ACK on the far side) keeps a LAN path's jitter from
/// counting as loss. The ceiling (`interval·loss` for probes) keeps one slow
/// answer from hiding a blackhole for longer than the probes would take anyway.
///
/// Karn's rule does not apply: every probe has its own sequence number, so each
/// answer, even a late one, is an unambiguous sample.
public struct RTTEstimator: Hashable, Sendable {
    /// The smoothed RTT; nil before the first sample.
    public private(set) var srtt: Duration?
    /// The RTT variation; nil before the first sample.
    public private(set) var rttvar: Duration?
    /// The last `recentCount` samples, oldest first.
    public private(set) var recent: [Duration] = []
    /// How many samples `recent` keeps.
    public static let recentCount = 3
    /// Doublings applied by `backOff()` since the last sample.
    public private(set) var backoff: Int = 0
    public var floor: Duration
    public var ceiling: Duration

    /// RFC 6298's initial timeout.
    public static let initialTimeout: Duration = .seconds(1)
    /// Clock granularity G.
    public static let granularity: Duration = .milliseconds(1)
    /// The default floor.
    public static let defaultFloor: Duration = .milliseconds(50)

    public init(floor: Duration = RTTEstimator.defaultFloor, ceiling: Duration) {
        self.floor = floor
        self.ceiling = Swift.max(ceiling, floor)
    }

    /// Takes one measured round trip.
    public mutating func sample(_ rtt: Duration) {
        let r = Swift.max(rtt, .zero)
        recent.append(r)
        if recent.count > Self.recentCount { recent.removeFirst(recent.count - Self.recentCount) }
        if let s = srtt, let v = rttvar {
            let delta = s > r ? s - r : r - s
            rttvar = v * 3 / 4 + delta / 4
            srtt = s * 7 / 8 + r / 8
        } else {
            srtt = r
            rttvar = r / 2
        }
        backoff = 0
    }

    /// Doubles the timeout (RFC 6298 5.5), until it reaches the ceiling.
    public mutating func backOff() {
        if unclampedTimeout(backoff: backoff) < ceiling { backoff += 1 }
    }

    /// The timeout of a probe sent now.
    public var timeout: Duration { Swift.min(Swift.max(unclampedTimeout(backoff: backoff), floor), ceiling) }

    /// The floored timeout, doubled `backoff` times (the doubling starts from
    /// the floor, or backing off a 10 ms path would stay under 50 ms for three doublings).
    private func unclampedTimeout(backoff: Int) -> Duration {
        var t: Duration
        if let s = srtt, let v = rttvar { t = s + Swift.max(Self.granularity, v * 4) } else { t = Self.initialTimeout }
        t = Swift.max(t, floor)
        for _ in 0..<backoff { t = t * 2 }
        return t
    }
}
