import MPTCPKit
import MPTCPPolicy

/// One path's judgement on the health thread: its `PathHealth`, the path as
/// last handed over, which target the next probe goes to, and the counts
/// `paths` and the metrics show. No I/O: the thread sends what `nextProbe` says.
struct PathProber: Sendable {
    var path: ProbePath
    var health: PathHealth
    /// Peers seen in the connection table (the `peers` target), beside the pass's.
    var livePeers: [IPAddress] = []
    /// Whether a connection on the path had data in flight at the last
    /// passive reading (`PassiveSample.connectionsInFlight`).
    var connectionsInFlight = false
    var sent = 0
    var lost = 0
    /// Probes in flight: their target and when they count as lost (for `lost` and to close connect probes).
    var inFlight: [UInt16: (target: ProbeDestination, deadline: Duration)] = [:]
    private var sequence: UInt16
    /// Probes sent so far, for the rotation.
    private var turn = 0

    /// Every this many probes one goes to a target that never answered, so a
    /// target that comes up (a server started late) is found.
    static let exploreEvery = 8

    init(path: ProbePath, firstSequence: UInt16) {
        self.path = path
        health = PathHealth(key: path.key, settings: path.settings)
        sequence = firstSequence
    }

    /// Takes the pass's new view of the path (settings, source, gateway, peers).
    mutating func update(_ new: ProbePath) {
        if new.settings != path.settings { health.update(new.settings) }
        path = new
    }

    /// The resolved targets now: the path's, with the live peers added when `peers` is a target.
    var destinations: [ProbeDestination] {
        var p = path
        var seen = Set(p.peers)
        p.peers += livePeers.filter { seen.insert($0).inserted }
        p.peers = Array(p.peers.prefix(ProbePlan.peerLimit))
        return p.destinations
    }

    /// The target of the next probe, rotating among those that answered (all
    /// of them while none has), with a turn for the others every `exploreEvery`
    /// when `explore` (`PathHealth.mayExplore`: not while a run of losses counts
    /// or the path is `down`, as a lost probe to a target that never answered
    /// is no evidence, and that turn would put off detection, or failback, by
    /// one interval). Once a far target answered, the near one (the gateway)
    /// is skipped: its answers are no evidence then (`PathHealth`), and each
    /// probe, at most one per interval, should carry far evidence.
    static func choose(from destinations: [ProbeDestination], answered: (ProbeDestination) -> Bool, turn: Int,
                       explore: Bool = true) -> ProbeDestination? {
        let far = destinations.filter { !$0.isNear }
        let destinations = far.contains(where: answered) ? far : destinations
        guard !destinations.isEmpty else { return nil }
        let good = destinations.filter(answered)
        let others = destinations.filter { !answered($0) }
        if good.isEmpty { return others[turn % others.count] }
        if explore, !others.isEmpty, turn % exploreEvery == exploreEvery - 1 { return others[(turn / exploreEvery) % others.count] }
        return good[turn % good.count]
    }

    /// When a probe is due at `now`: its target and sequence, recorded as sent
    /// (the caller sends it, or reports it failed at once).
    mutating func nextProbe(at now: Duration) -> (target: ProbeDestination, sequence: UInt16)? {
        guard health.dueProbe(at: now) else { return nil }
        let destinations = self.destinations
        self.health.retarget(destinations)
        let health = self.health
        guard let target = Self.choose(from: destinations, answered: { health.hasAnswered($0) }, turn: turn,
                                       explore: health.mayExplore) else { return nil }
        turn &+= 1
        sequence &+= 1
        self.health.probeSent(sequence: sequence, at: now, target: target)
        inFlight[sequence] = (target, now + self.health.probeTimeout)
        sent += 1
        return (target, sequence)
    }

    mutating func answered(_ sequence: UInt16, at now: Duration) -> [PathTransition] {
        inFlight[sequence] = nil
        return health.probeAnswered(sequence: sequence, at: now)
    }

    mutating func failed(_ sequence: UInt16, at now: Duration) -> [PathTransition] {
        guard inFlight.removeValue(forKey: sequence) != nil else { return [] }
        lost += 1
        return health.probeFailed(sequence: sequence, at: now)
    }

    /// Timeouts at `now`: the transitions, and the sequences now lost (their connect probes are closed).
    mutating func tick(at now: Duration) -> (transitions: [PathTransition], expired: [UInt16]) {
        let expired = inFlight.filter { $0.value.deadline <= now }.map(\.key)
        for s in expired { inFlight[s] = nil }
        lost += expired.count
        return (health.tick(at: now), expired)
    }

    /// The next time `tick` or a probe is needed.
    var nextDeadline: Duration? {
        ([health.nextDeadline()].compactMap { $0 } + inFlight.values.map(\.deadline)).min()
    }
}
