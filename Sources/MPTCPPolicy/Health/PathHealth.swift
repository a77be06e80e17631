/// The health of ONE path (interface × family): a pure state machine fed with
/// probe outcomes and the kernel's view of the path's subflows, returning the
/// transitions to act on. It owns no clock and does no I/O.
///
/// **Time**: every call takes `at:`, a `Duration` on one monotonic time line
/// the caller chooses (the daemon: `ContinuousClock.now − start`). A `Duration`
/// rather than a `ContinuousClock.Instant` keeps the machine and its tests exact
/// and lets `PathTransition` be Codable.
///
/// **Probes** (`probeSent`, `probeAnswered`, `probeFailed`, `tick`): each probe
/// gets a timeout when sent (`timeout = "adaptive"`: `RTTEstimator`, RFC 6298);
/// `tick` declares it lost when its timeout expires, `probeFailed` at once (an
/// ICMP unreachable, ENETUNREACH). The caller drains answers before calling
/// `tick`: an answer to a probe not yet declared lost is in time. `dueProbe`
/// allows at most one probe per interval: the next is due `interval` after the
/// last one sent, so a late caller shifts the schedule, never packs it.
///
/// **States and hysteresis**:
/// - `down` after `loss` lost probes in a row, or on a passive stall.
/// - `degraded` when the smoothed RTT and each of the last 3 samples are over
///   `max_rtt` (it stays while the smoothed RTT is over), or more than `max_loss`
///   percent of the last 10 probes were lost (judged once 10 probes are in, so
///   one early loss is not 100 %).
/// - `degraded` → `up` after `recover_hold` of good figures: RTT and loss within
///   limits from the first good answer on.
/// - `down` → `up` (or `degraded` when the RTT is still over `max_rtt`) **at
///   once**, on the first probe answered in time or on ack progress: a `down`
///   path is withdrawn (or backup), so trying it again costs nothing, while
///   holding it for `recover_hold` (2 s) would break "failback ≤ 1 s". The
///   outage's losses are forgotten (the loss window restarts), since they were
///   acted on already. A late answer (after its timeout) is an RTT sample and
///   forgives the losses of probes sent until it was, but does not lift `down`:
///   the next probe, with the timeout that sample lengthened, decides.
/// - **The run of losses** counts only probes sent after the path was last
///   seen to work (`aliveAt`): an answer, in time or late, to a probe sent at
///   s proves the path at s, not later; probes sent after s and lost still
///   count. So an answer that queued behind a download at a router just before
///   the path went dark does not restart the count.
/// - `unknown` until the first evidence; `unknown` → `up` is not reported.
///
/// **Timeouts do not back off while the path is up or degraded**: probes go out
/// at a fixed rate whatever their timer does, so doubling protects no one, and
/// it would stretch detection (the third probe of a run would wait 4·RTO;
/// see `ProbeSettings` for the arithmetic).
/// A late answer lengthens later timeouts instead. While `down`, each loss backs
/// the timeout off (up to `interval·loss`), so the first answers of a healing
/// path, slow while queues drain, count.
///
/// **Combining passive and active evidence**: each source may only make a path
/// `down` while the other has no fresh evidence of life, since each has its own
/// blind spot: a probe target can stop answering on a healthy path (ICMP
/// filtered, the target rebooting), and subflows can stall for reasons that are
/// not the path (the peer is gone).
/// - Passive progress forgives the lost probes sent before it proves the path
///   worked: the previous sample's time less one smoothed RTT (what arrived
///   since may have waited that long in a router's queue, and data still
///   draining from it after the path went dark proves nothing later). While
///   the subflows keep making progress (read every 200 ms while busy), each
///   reading forgives the probes sent up to 400 ms + srtt before it, less the
///   timeout they waited: a run cannot reach `loss` while (loss − 1)·interval
///   is at least 400 ms + srtt − timeout, always so when it is 400 ms (800 ms
///   with the defaults).
/// - A probe answered in time since the stalled subflows' last ACK vetoes the
///   passive `down`.
/// - A probe target that never answered since start is unreachable, not
///   evidence: its lost probes are not counted at all (a path whose targets
///   never answered is judged by passive evidence alone). The caller should
///   rotate among targets that answered (`hasAnswered`).
/// - Either source lifts `down`: an answer in time, or ack progress.
/// A `down` path whose address is withdrawn has no subflows, so only a probe
/// target that answers brings it back: give a TCP target where ICMP is filtered.
///
/// **Near and far targets** (`ProbeDestination.isNear`): the gateway is near,
/// peers and configured targets are far. A router, or an LTE modem, can answer
/// pings while it drops everything it forwards (its upstream is dead): then
/// the near answers would end every run of losses, veto the passive `down` and
/// lift `down`, and the path would never be `down`. So once a far target has
/// answered in time (or late) and is still probed (`retarget`), near answers
/// are no evidence of life: they do not end a run of losses, count as answered
/// in the loss window, veto the passive `down`, lift `down`, or feed the RTT
/// estimator (the near RTT would make the far probes' timeout too short; the
/// first far answer restarts an estimator fed by near answers only). A lost
/// near probe still counts (a silent next hop is a broken path). Until a far
/// target has answered (a server whose only target is its gateway, a path
/// whose far targets are unreachable), near answers count as any other.
public struct PathHealth: Sendable {
    public let key: PathKey
    public private(set) var settings: ProbeSettings
    public internal(set) var state: PathHealthState = .unknown
    public internal(set) var estimator: RTTEstimator
    /// The latest transition reported.
    public internal(set) var lastTransition: PathTransition?

    /// A probe in flight or recently lost.
    struct Probe: Sendable {
        var sequence: UInt16
        var target: ProbeDestination?
        var sentAt: Duration
        var deadline: Duration
        /// Lost and counted as evidence (its target had answered before).
        var counted = false
    }

    /// What made the path `down`.
    enum DownCause: Sendable { case probes, passive }

    var outstanding: [Probe] = []
    /// The last lost probes, for late answers.
    var recentlyLost: [Probe] = []
    /// The last `ProbeSettings.lossWindow` judged probes: true answered, false lost.
    var outcomes: [Bool] = []
    /// When the counted lost probes sent after `aliveAt` were sent: the run
    /// that makes the path `down` (the last `ProbeSettings.lossRange.upperBound`).
    var lossRun: [Duration] = []
    /// The length of the run of losses.
    var consecutiveLosses: Int { lossRun.count }
    /// Down: the path is known to have failed since then (the first lost probe
    /// of the run that made it `down`, or the stalled subflows' last ACK).
    /// Passive progress proving an earlier moment does not lift `down`.
    var failedSince: Duration?
    /// The latest moment the path is known to have carried traffic both ways:
    /// when the latest answered probe was sent, or what passive progress proves
    /// (`PathHealth+Passive`). Losses of probes sent until then are not the path's.
    var aliveAt: Duration?
    var lastSentAt: Duration?
    /// The last answer in time.
    var lastAnswerAt: Duration?
    var answeredTargets: Set<ProbeDestination?> = []
    /// Far targets that answered (in time or late): the near targets' answers stop counting.
    var answeredFar: Set<ProbeDestination> = []
    /// The destinations probed now, as the caller last said (`retarget`); nil until it does.
    var probedDestinations: Set<ProbeDestination>?
    /// Whether the estimator took a far sample since it (re)started.
    var estimatorHasFarSample = false
    var downCause: DownCause?
    /// Degraded: since when RTT and loss have been within their limits.
    var goodSince: Duration?
    var lastBytesAcked: UInt64?
    var lastBytesReceived: UInt64?
    /// Subflows and established subflows in the last sample (`progress` compares like with like).
    var lastSubflows: (Int, Int)?
    /// Since when every passive sample has shown more bytes received (the first that did).
    var receivingSince: Duration?
    /// When the previous passive sample was taken.
    var lastSampleAt: Duration?

    /// Probes kept in flight at most (a caller that never ticks cannot grow it without bound).
    static let outstandingLimit = 64

    public init(key: PathKey, settings: ProbeSettings) {
        self.key = key
        self.settings = settings
        estimator = RTTEstimator(ceiling: settings.timeoutCeiling)
    }

    /// Takes new settings (a reload); the evidence gathered so far stays.
    public mutating func update(_ settings: ProbeSettings) {
        self.settings = settings
        estimator.ceiling = Swift.max(settings.timeoutCeiling, estimator.floor)
    }

    /// The smoothed probe RTT; nil before the first answer.
    public var srtt: Duration? { estimator.srtt }

    /// Percent of the last 10 judged probes that were lost; nil before any.
    public var lossPercent: Int? {
        guard !outcomes.isEmpty else { return nil }
        return (outcomes.filter { !$0 }.count * 100 + outcomes.count / 2) / outcomes.count
    }

    /// The timeout a probe sent now gets.
    public var probeTimeout: Duration {
        settings.timeoutMilliseconds.map { .milliseconds($0) } ?? estimator.timeout
    }

    /// Whether `target` ever answered (a target that never did is not evidence).
    public func hasAnswered(_ target: ProbeDestination?) -> Bool { answeredTargets.contains(target) }

    /// Whether a probe may go to a target that never answered (to find one
    /// that came up late): not while a run of losses counts, as such a probe's
    /// loss is not counted and it would put off `down` by one interval. A
    /// `down` path explores: the targets that answered may be the ones gone,
    /// and a withdrawn path has no subflows to prove it back.
    public var mayExplore: Bool { consecutiveLosses == 0 || state == .down }

    /// Whether the path is probed at all: `mode = "on"` and at least one target
    /// (`targets = []` leaves passive evidence alone).
    public var probing: Bool { settings.mode == .on && !settings.targets.isEmpty }

    /// Whether a probe may be sent at `now`: probing is on and `interval` has
    /// passed since the last one.
    public func dueProbe(at now: Duration) -> Bool {
        guard probing else { return false }
        guard let last = lastSentAt else { return true }
        return now - last >= settings.interval
    }

    /// When `tick` (or a probe) is next needed: the next probe, the first
    /// timeout, the end of a recover hold; nil when nothing is pending.
    public func nextDeadline() -> Duration? {
        var times: [Duration] = outstanding.map(\.deadline)
        if probing { times.append(lastSentAt.map { $0 + settings.interval } ?? .zero) }
        if state == .degraded, let since = goodSince { times.append(since + settings.recoverHold) }
        return times.min()
    }
}
