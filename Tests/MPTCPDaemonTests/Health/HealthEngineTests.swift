import MPTCPAPI
@testable import MPTCPKit
@testable import MPTCPDaemon
import MPTCPPolicy
import Testing

/// The health thread's logic without sockets: paths handed over, probes due
/// and rotated, answers, timeouts and passive samples, and what `paths`,
/// steering and the events see.
@Suite struct HealthEngineTests {
    static func address(_ text: String) -> IPAddress { IPAddress(text) ?? .v4([0, 0, 0, 0]) }

    static func path(_ interface: String = "eth1", source: String = "10.1.1.2", targets: [ProbeTarget] = [.gateway],
                     gateway: String? = "10.1.1.1") -> ProbePath {
        var settings = ProbeSettings()
        settings.targets = targets
        return ProbePath(key: PathKey(interface: interface, family: .ipv4), interfaceIndex: 2, source: address(source),
                         addresses: [address(source)], gateway: gateway.map(address), peers: [], settings: settings)
    }

    static func ms(_ n: Int) -> Duration { .milliseconds(n) }

    /// Sends what is due at `t` and answers each probe after `rtt` (nil: never).
    static func run(_ engine: inout HealthEngine, from start: Int, to end: Int, rtt: Int?) -> [PathTransition] {
        var transitions: [PathTransition] = []
        var t = start
        while t <= end {
            for probe in engine.dueProbes(at: ms(t)) {
                if let rtt { transitions += engine.answered(probe.key, sequence: probe.sequence, at: ms(t + rtt)) }
            }
            transitions += engine.tick(at: ms(t)).transitions
            t += 50
        }
        return transitions
    }

    @Test func aPathThatStopsAnsweringIsDownWithEvidenceAndUpAgainOnItsFirstAnswer() {
        var engine = HealthEngine()
        #expect(engine.apply([Self.path()]).isEmpty)
        #expect(Self.run(&engine, from: 0, to: 2000, rtt: 5).isEmpty, "unknown -> up is not reported")
        let key = PathKey(interface: "eth1", family: .ipv4)
        #expect(engine.view.state(of: key) == .up)
        let down = Self.run(&engine, from: 2050, to: 5000, rtt: nil)
        #expect(down.map(\.to) == [.down] && down.first?.evidence.contains("3 probes lost in a row") == true, "\(down)")
        #expect(engine.view.paths[key]?.state == .down && engine.view.paths[key]?.evidence == down.first?.evidence)
        let up = Self.run(&engine, from: 5050, to: 6000, rtt: 5)
        #expect(up.map(\.to) == [.up], "\(up)")
        let record = engine.records { _ in 1_000 }.first
        #expect(record?.state == "up" && record?.lastTransition?.from == "down" && record?.lastTransition?.at == 1_000)
        #expect((record?.probesLost ?? 0) >= 3 && (record?.probesSent ?? 0) > (record?.probesLost ?? 0))
        #expect(record?.targets == [PathRecord.Target(target: "10.1.1.1", answered: true)])
    }

    @Test func aVanishedPathIsForgottenAndAReloadKeepsTheEvidence() {
        var engine = HealthEngine()
        _ = engine.apply([Self.path(), Self.path("eth2", source: "10.1.2.2", gateway: "10.1.2.1")])
        _ = Self.run(&engine, from: 0, to: 1000, rtt: 5)
        var slower = Self.path()
        slower.settings.intervalMilliseconds = 1000
        #expect(engine.apply([slower]) == [PathKey(interface: "eth2", family: .ipv4)])
        #expect(engine.probers.count == 1 && engine.view.state(of: slower.key) == .up, "evidence kept across new settings")
        #expect(engine.probers[slower.key]?.health.settings.intervalMilliseconds == 1000)
    }

    @Test func probesRotateAmongTargetsThatAnsweredAndGiveTheOthersAnOccasionalTurn() {
        let a = ProbeDestination(address: Self.address("192.0.2.1")), b = ProbeDestination(address: Self.address("192.0.2.2"))
        let c = ProbeDestination(address: Self.address("192.0.2.3"), port: 443)
        let none = (0..<4).compactMap { PathProber.choose(from: [a, b, c], answered: { _ in false }, turn: $0) }
        #expect(none == [a, b, c, a], "while none answered, each in turn")
        let picks = (0..<16).compactMap { PathProber.choose(from: [a, b, c], answered: { $0 == c }, turn: $0) }
        #expect(picks.filter { $0 == c }.count == 14 && picks.filter { $0 != c }.count == 2, "\(picks)")
        #expect(PathProber.choose(from: [], answered: { _ in true }, turn: 0) == nil)
    }

    @Test func atMostOneProbePerIntervalPerPathAndNoneWithoutATarget() {
        var engine = HealthEngine()
        _ = engine.apply([Self.path(), Self.path("eth2", targets: [])])
        var sent = 0
        for t in stride(from: 0, through: 4000, by: 10) { sent += engine.dueProbes(at: Self.ms(t)).count }
        #expect(sent == 11, "eth1 every 400 ms from 0 to 4000, eth2 none")
    }

    @Test func ackProgressMakesAPathWhoseTargetNeverAnswersUpAndKeepsItFromDown() {
        var engine = HealthEngine()
        let path = Self.path(targets: [.echo(Self.address("192.0.2.99"))])
        _ = engine.apply([path])
        var transitions: [PathTransition] = []
        for step in 0..<40 {
            let t = step * 100
            _ = engine.dueProbes(at: Self.ms(t))
            transitions += engine.tick(at: Self.ms(t)).transitions
            transitions += engine.passive(Self.reading(source: "10.1.1.2", acked: UInt64(1000 * step)), at: Self.ms(t))
        }
        #expect(transitions.isEmpty && engine.view.state(of: path.key) == .up, "\(transitions)")
        #expect((engine.records { _ in 0 }.first?.probesLost ?? 0) > 3, "lost, but never counted against the path")
    }

    static func reading(source: String, acked: UInt64, unacked: UInt32 = 0, lastAck: UInt32 = 0, backoff: UInt8 = 0,
                        remote: String = "10.3.0.1", inFlight: Bool = false) -> PassiveReading {
        var info = TCPInfo(state: .established, backoff: backoff)
        info.bytesAcked = acked
        info.unacked = unacked
        info.lastAckReceivedMilliseconds = lastAck
        let subflow = Subflow(localAddress: address(source), localPort: 40000, remoteAddress: address(remote), remotePort: 443,
                              backupLocal: false, backupRemote: false, localID: 0, remoteID: 0, interfaceIndex: 2,
                              state: .established, token: 1, tcpInfo: info)
        return PassiveReading(subflows: [subflow], peers: [address(remote)], inFlight: inFlight ? [1] : [])
    }

    @Test func aPassiveSampleSumsThePathsSubflowsAndAStallIsDown() {
        let reading = Self.reading(source: "10.1.1.2", acked: 500, unacked: 3, lastAck: 2500, backoff: 3)
        let sample = reading.sample(for: Self.path())
        #expect(sample == PassiveSample(subflows: 1, established: 1, bytesAcked: 500, maxBackoff: 3, hasUnackedData: true,
                                        lastAckAge: .milliseconds(2500)))
        #expect(reading.sample(for: Self.path("eth2", source: "10.1.2.2")) == nil, "not its subflow")
        var engine = HealthEngine()
        _ = engine.apply([Self.path(targets: [])])
        _ = engine.passive(Self.reading(source: "10.1.1.2", acked: 500), at: Self.ms(0))
        let t = engine.passive(reading, at: Self.ms(3000))
        #expect(t.map(\.to) == [.down] && t.first?.evidence.contains("stalled") == true, "\(t)")
    }

    /// The view says a down path's connections have data in flight, as the
    /// last reading found; an up path's never (steering weighs it only when down).
    @Test func theViewSaysOfADownPathWhetherItsConnectionsHaveDataInFlight() {
        var engine = HealthEngine()
        let path = Self.path(targets: [])
        _ = engine.apply([path])
        _ = engine.passive(Self.reading(source: "10.1.1.2", acked: 500, inFlight: true), at: Self.ms(0))
        #expect(engine.view.paths[path.key]?.inFlight == false, "up: not said")
        let t = engine.passive(Self.reading(source: "10.1.1.2", acked: 500, unacked: 3, lastAck: 2500, backoff: 3, inFlight: true),
                               at: Self.ms(3000))
        #expect(t.map(\.to) == [.down])
        #expect(engine.view.paths[path.key]?.inFlight == true)
        _ = engine.passive(Self.reading(source: "10.1.1.2", acked: 500, unacked: 3, lastAck: 3500, backoff: 3), at: Self.ms(3500))
        #expect(engine.view.paths[path.key]?.inFlight == false, "idle now")
        _ = engine.passive(PassiveReading(subflows: [], peers: []), at: Self.ms(4000))
        #expect(engine.view.paths[path.key]?.inFlight == false, "no subflow left")
        _ = engine.passive(Self.reading(source: "10.1.1.2", acked: 500, unacked: 3, lastAck: 4500, backoff: 3, inFlight: true),
                           at: Self.ms(4500))
        #expect(engine.view.paths[path.key]?.inFlight == true)
        engine.passiveFailed()
        #expect(engine.view.paths[path.key]?.inFlight == false, "a failed reading says nothing: no withdrawal waits for it")
        #expect(engine.records { _ in 0 }.first?.dataInFlight == false)
    }

    /// `on_path_down = "backup"` weighs no data in flight: the view never says it.
    @Test func aBackupModeDownPathNeverSaysDataInFlight() {
        var engine = HealthEngine()
        var path = Self.path(targets: [])
        path.settings.onPathDown = .backup
        _ = engine.apply([path])
        _ = engine.passive(Self.reading(source: "10.1.1.2", acked: 500, inFlight: true), at: Self.ms(0))
        let t = engine.passive(Self.reading(source: "10.1.1.2", acked: 500, unacked: 3, lastAck: 2500, backoff: 3, inFlight: true),
                               at: Self.ms(3000))
        #expect(t.map(\.to) == [.down])
        #expect(engine.view.paths[path.key]?.inFlight == false)
        #expect(engine.records { _ in 0 }.first?.dataInFlight == true, "paths still shows the fact")
    }

    @Test func thePeersOfThisHostsConnectionsBecomeProbeTargets() {
        var engine = HealthEngine()
        let path = Self.path(targets: [.peers])
        _ = engine.apply([path])
        #expect(engine.probers[path.key]?.destinations.isEmpty == true)
        _ = engine.passive(Self.reading(source: "10.1.2.2", acked: 0, remote: "10.3.0.1"), at: Self.ms(0))
        #expect(engine.probers[path.key]?.destinations == [ProbeDestination(address: Self.address("10.3.0.1"))])
    }
}
