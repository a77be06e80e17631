import MPTCPAPI
import MPTCPKit
import MPTCPPolicy

/// Every judged path's `PathProber`, on one time line (`Duration` since the
/// health thread started, as `PathHealth` wants): the health thread's state,
/// apart from its sockets, so the service logic is tested without a kernel.
struct HealthEngine: Sendable {
    private(set) var probers: [PathKey: PathProber] = [:]
    /// Sequences start apart per path, so a capture tells two paths' probes apart.
    private var nextFirstSequence: UInt16

    init(firstSequence: UInt16 = 1) { nextFirstSequence = firstSequence }

    /// Takes the paths of an endpoint pass: new ones start `unknown`, known
    /// ones keep their evidence (a reload's new settings apply), vanished ones
    /// are forgotten. Returns the keys forgotten (their sockets are closed).
    mutating func apply(_ paths: [ProbePath]) -> [PathKey] {
        let wanted = Set(paths.map(\.key))
        let gone = probers.keys.filter { !wanted.contains($0) }
        for key in gone { probers[key] = nil }
        for path in paths {
            if probers[path.key] != nil {
                probers[path.key]?.update(path)
            } else {
                probers[path.key] = PathProber(path: path, firstSequence: nextFirstSequence)
                nextFirstSequence &+= 4096
            }
        }
        return gone.sorted()
    }

    /// The probes due at `now`, each recorded as sent.
    mutating func dueProbes(at now: Duration) -> [(key: PathKey, target: ProbeDestination, sequence: UInt16)] {
        var due: [(PathKey, ProbeDestination, UInt16)] = []
        for key in probers.keys.sorted() {
            if let p = probers[key]?.nextProbe(at: now) { due.append((key, p.target, p.sequence)) }
        }
        return due
    }

    mutating func answered(_ key: PathKey, sequence: UInt16, at now: Duration) -> [PathTransition] {
        probers[key]?.answered(sequence, at: now) ?? []
    }

    mutating func failed(_ key: PathKey, sequence: UInt16, at now: Duration) -> [PathTransition] {
        probers[key]?.failed(sequence, at: now) ?? []
    }

    /// Timeouts of every path at `now`; the lost sequences by path.
    mutating func tick(at now: Duration) -> (transitions: [PathTransition], expired: [PathKey: [UInt16]]) {
        var transitions: [PathTransition] = []
        var expired: [PathKey: [UInt16]] = [:]
        for key in probers.keys.sorted() {
            guard let t = probers[key]?.tick(at: now) else { continue }
            transitions += t.transitions
            if !t.expired.isEmpty { expired[key] = t.expired }
        }
        return (transitions, expired)
    }

    /// One passive reading of the connection table: a sample for each path
    /// with subflows, and the peers for the `peers` target.
    mutating func passive(_ reading: PassiveReading, at now: Duration) -> [PathTransition] {
        var transitions: [PathTransition] = []
        for key in probers.keys.sorted() {
            guard let prober = probers[key] else { continue }
            probers[key]?.livePeers = reading.peers.filter { $0.isIPv4 == (key.family == .ipv4) }
            let sample = reading.sample(for: prober.path)
            probers[key]?.connectionsInFlight = sample?.connectionsInFlight ?? false
            if let sample {
                transitions += probers[key]?.health.passive(sample, at: now) ?? []
            }
        }
        return transitions
    }

    /// A reading of the connection table failed: it says nothing of data in
    /// flight, so no withdrawal waits for it.
    mutating func passiveFailed() {
        for key in probers.keys { probers[key]?.connectionsInFlight = false }
    }

    /// The earliest time anything is due.
    var nextDeadline: Duration? { probers.values.compactMap(\.nextDeadline).min() }

    /// What steering reads. Data in flight is said only of `down` paths that
    /// `on_path_down = "withdraw"` would withdraw (the only ones whose steering
    /// weighs it), so the view changes with traffic only then.
    var view: PathHealthView {
        PathHealthView(paths: probers.mapValues {
            PathHealthView.Verdict(state: $0.health.state, onPathDown: $0.path.settings.onPathDown,
                                   evidence: $0.health.lastTransition?.evidence ?? "",
                                   inFlight: $0.health.state == .down && $0.path.settings.onPathDown == .withdraw
                                       && $0.connectionsInFlight,
                                   roundTrip: $0.health.farRoundTrip)
        })
    }

    /// What `paths` shows; `wallClock` turns a time of this line into seconds since 1970.
    func records(wallClock: (Duration) -> Double) -> [PathRecord] {
        probers.keys.sorted().compactMap { key in
            guard let p = probers[key] else { return nil }
            let health = p.health
            return PathRecord(
                interface: key.interface, family: key.family.rawValue, state: health.state.rawValue,
                source: p.path.source.description, gateway: p.path.gateway?.description,
                rttMilliseconds: health.srtt.map { (HealthReport.milliseconds($0) * 10).rounded() / 10 },
                lossPercent: health.lossPercent,
                targets: p.destinations.map { PathRecord.Target(target: $0.description, answered: health.hasAnswered($0)) },
                probesSent: p.sent, probesLost: p.lost, onPathDown: p.path.settings.onPathDown.rawValue,
                lastTransition: health.lastTransition.map {
                    PathRecord.Transition(from: $0.from.rawValue, to: $0.to.rawValue, at: wallClock($0.at), evidence: $0.evidence)
                }, dataInFlight: p.connectionsInFlight)
        }
    }
}
