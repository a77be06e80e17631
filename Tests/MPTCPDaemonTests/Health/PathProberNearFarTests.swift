import MPTCPAPI
@testable import MPTCPDaemon
import MPTCPKit
import MPTCPPolicy
import Testing

/// The rotation once a far target (a peer) answered: the gateway, whose
/// answers are then no evidence, is no longer probed.
@Suite struct PathProberNearFarTests {
    static func address(_ text: String) -> IPAddress { IPAddress(text) ?? .v4([0, 0, 0, 0]) }
    let gateway = ProbeDestination(address: Self.address("10.1.1.1"), isNear: true)
    let peer = ProbeDestination(address: Self.address("10.3.0.1"))
    let other = ProbeDestination(address: Self.address("10.3.0.2"))

    func picks(_ destinations: [ProbeDestination], answered: Set<ProbeDestination>, turns: Int = 16) -> [ProbeDestination] {
        (0..<turns).compactMap { PathProber.choose(from: destinations, answered: { answered.contains($0) }, turn: $0) }
    }

    @Test func onceAFarTargetAnsweredTheGatewayIsNoLongerProbed() {
        #expect(picks([gateway, peer], answered: [gateway, peer]) == Array(repeating: peer, count: 16))
    }

    @Test func farTargetsThatNeverAnsweredKeepTheirOccasionalTurnAndTheGatewayNone() {
        let p = picks([gateway, peer, other], answered: [gateway, peer])
        #expect(p.filter { $0 == other }.count == 2 && p.filter { $0 == peer }.count == 14 && !p.contains(gateway), "\(p)")
    }

    @Test func noTargetThatNeverAnsweredGetsATurnWhileLossesCount() {
        let p = (0..<16).compactMap {
            PathProber.choose(from: [gateway, peer, other], answered: { [gateway, peer].contains($0) }, turn: $0, explore: false)
        }
        #expect(p == Array(repeating: peer, count: 16), "each probe is evidence: \(p)")
        let none = (0..<3).compactMap { PathProber.choose(from: [peer, other], answered: { _ in false }, turn: $0, explore: false) }
        #expect(none == [peer, other, peer], "while none answered, each in turn all the same")
    }

    @Test func untilAFarTargetAnsweredTheGatewayIsProbedAndTheFarOnesExplored() {
        let p = picks([gateway, peer], answered: [gateway])
        #expect(p.filter { $0 == gateway }.count == 14 && p.filter { $0 == peer }.count == 2, "\(p)")
        #expect(picks([gateway, peer], answered: [], turns: 4) == [gateway, peer, gateway, peer], "none answered: each in turn")
    }

    static func path() -> ProbePath {
        ProbePath(key: PathKey(interface: "eth1", family: .ipv4), interfaceIndex: 2, source: address("10.1.1.2"),
                  addresses: [address("10.1.1.2")], gateway: address("10.1.1.1"), peers: [], settings: ProbeSettings())
    }

    /// One engine step every 50 ms from `start` to `end`: probes due are
    /// answered after 1 ms (gateway) or 20 ms (peer) when `answers` says so.
    static func run(_ engine: inout HealthEngine, from start: Int, to end: Int, sent: inout [ProbeDestination],
                    answers: (ProbeDestination) -> Bool) -> [PathTransition] {
        var transitions: [PathTransition] = []
        for t in stride(from: start, through: end, by: 50) {
            transitions += engine.passive(PassiveReading(subflows: [], peers: [address("10.3.0.1")]), at: .milliseconds(t))
            for probe in engine.dueProbes(at: .milliseconds(t)) {
                sent.append(probe.target)
                guard answers(probe.target) else { continue }
                let rtt = probe.target.isNear ? 1 : 20
                transitions += engine.answered(probe.key, sequence: probe.sequence, at: .milliseconds(t + rtt))
            }
            transitions += engine.tick(at: .milliseconds(t)).transitions
        }
        return transitions
    }

    @Test func anUpstreamBlackholeBehindAnAnsweringGatewayIsDownAndHealsOnThePeersAnswer() {
        var engine = HealthEngine()
        _ = engine.apply([Self.path()])
        let key = Self.path().key
        var sent: [ProbeDestination] = []
        #expect(Self.run(&engine, from: 0, to: 4000, sent: &sent, answers: { _ in true }).isEmpty)
        #expect(engine.view.state(of: key) == .up && sent.contains(peer))
        // From the peer's first answer on, every probe goes to it: one per interval.
        let first = sent.firstIndex(of: peer) ?? 0
        #expect(!sent[(first + 1)...].contains(gateway), "\(sent)")
        // Upstream dead: the router still answers its pings, nothing beyond it does.
        sent = []
        let down = Self.run(&engine, from: 4050, to: 6000, sent: &sent, answers: { $0.isNear })
        #expect(down.map(\.to) == [.down] && down.first?.evidence.contains("to 10.3.0.1") == true, "\(down)")
        #expect(!sent.contains(gateway) && sent.count <= 5, "\(sent)")
        let up = Self.run(&engine, from: 6050, to: 7000, sent: &sent, answers: { _ in true })
        #expect(up.map(\.to) == [.up] && up.first?.evidence.contains("from 10.3.0.1") == true, "\(up)")
        let record = engine.records { _ in 0 }.first
        #expect(record?.targets == [PathRecord.Target(target: "10.1.1.1", answered: true), PathRecord.Target(target: "10.3.0.1", answered: true)])
    }
}
