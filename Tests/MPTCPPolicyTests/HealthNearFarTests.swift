import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// Near (the gateway) and far (peers, configured) targets: a router that answers
/// pings while it drops what it forwards must not hide a dead upstream.
@Suite struct HealthNearFarTests {
    let key = PathKey(interface: "eth1", family: .ipv4)
    let gateway = ProbeDestination(address: .v4([10, 1, 1, 1]), isNear: true)
    let peer = ProbeDestination(address: .v4([10, 3, 0, 1]))

    /// A path whose gateway (1 ms) and peer (20 ms) both answered: up.
    func bothAnswered(_ settings: ProbeSettings = ProbeSettings()) -> PathHealth {
        var h = PathHealth(key: key, settings: settings)
        h.probeSent(sequence: 1, at: .zero, target: gateway)
        h.probeAnswered(sequence: 1, at: ms(1))
        h.probeSent(sequence: 2, at: ms(400), target: peer)
        h.probeAnswered(sequence: 2, at: ms(420))
        return h
    }

    /// Probes sent every 400 ms from `first`, alternating gateway (answered in
    /// 1 ms) and peer (lost at its timeout), for `count` peer probes.
    func upstreamDead(_ h: inout PathHealth, from first: UInt16, peerProbes count: Int) -> [PathTransition] {
        var all: [PathTransition] = []
        var seq = first
        for _ in 0..<count {
            let t = ms(400 * Int(seq))
            h.probeSent(sequence: seq, at: t, target: gateway)
            all += h.probeAnswered(sequence: seq, at: t + ms(1))
            seq += 1
            let u = ms(400 * Int(seq))
            h.probeSent(sequence: seq, at: u, target: peer)
            all += h.tick(at: u + ms(399))
            seq += 1
        }
        return all
    }

    @Test func theFarRoundTripIsKnownOnlyOnceAFarTargetAnsweredAndFollowsARisingQueue() {
        var h = PathHealth(key: key, settings: ProbeSettings())
        h.probeSent(sequence: 1, at: .zero, target: gateway)
        h.probeAnswered(sequence: 1, at: ms(1))
        #expect(h.farRoundTrip == nil, "the gateway's RTT says nothing of the queues beyond it")
        h.probeSent(sequence: 2, at: ms(400), target: peer)
        h.probeAnswered(sequence: 2, at: ms(420))
        #expect(h.farRoundTrip == ms(20))
        // A queue fills: the last sample shows it before the smoothed RTT does.
        h.probeSent(sequence: 3, at: ms(800), target: peer)
        h.probeAnswered(sequence: 3, at: ms(900))
        #expect(h.farRoundTrip == ms(100) && (h.srtt ?? .zero) < ms(100))
    }

    @Test func aPathIsDownAfterLossFarProbesLostWhileItsGatewayStillAnswers() {
        var h = bothAnswered()
        #expect(h.state == .up && h.farTargetAnswered)
        let early = upstreamDead(&h, from: 3, peerProbes: 2)
        #expect(early.isEmpty && h.state == .up, "\(early)")
        let t = upstreamDead(&h, from: 7, peerProbes: 1)
        #expect(t.map(\.to) == [.down] && h.state == .down, "\(t)")
        #expect(t.first?.evidence.contains("3 probes lost in a row") == true, "\(t)")
        #expect(t.first?.evidence.contains("to 10.3.0.1") == true, "\(t)")
        #expect(h.lossPercent == 60, "gateway answers are not good outcomes: 2 of 5 judged answered")
    }

    @Test func gatewayAnswersDoNotVetoThePassiveDownOnceAFarTargetAnswered() {
        var h = bothAnswered()
        _ = h.passive(PassiveSample(subflows: 1, established: 1, bytesAcked: 5000, maxBackoff: 0, hasUnackedData: false,
                                    lastAckAge: nil), at: ms(500))
        h.probeSent(sequence: 3, at: ms(1000), target: gateway)
        h.probeAnswered(sequence: 3, at: ms(1001))
        // The subflows' last ACK was 1.5 s before 2000 ms, before that gateway answer.
        let t = h.passive(PassiveSample(subflows: 1, established: 1, bytesAcked: 5000, maxBackoff: 3, hasUnackedData: true,
                                        lastAckAge: ms(1500)), at: ms(2000))
        #expect(t.map(\.to) == [.down] && t.first?.evidence.contains("stalled") == true, "\(t)")
    }

    @Test func aPathProbedAtItsGatewayAloneIsJudgedByItsGatewayAsBefore() {
        var h = PathHealth(key: key, settings: ProbeSettings())
        h.retarget([gateway])
        h.probeSent(sequence: 1, at: .zero, target: gateway)
        h.probeAnswered(sequence: 1, at: ms(1))
        #expect(h.state == .up && !h.farTargetAnswered && h.srtt == ms(1))
        // Answers end a run of losses.
        for seq: UInt16 in 2...3 { h.probeSent(sequence: seq, at: ms(400 * Int(seq)), target: gateway); _ = h.tick(at: ms(400 * Int(seq) + 399)) }
        h.probeSent(sequence: 4, at: ms(1600), target: gateway)
        h.probeAnswered(sequence: 4, at: ms(1601))
        var all: [PathTransition] = []
        for seq: UInt16 in 5...7 { h.probeSent(sequence: seq, at: ms(400 * Int(seq)), target: gateway); all += h.tick(at: ms(400 * Int(seq) + 399)) }
        #expect(all.map(\.to) == [.down] && all.first?.evidence.contains("to 10.1.1.1") == true, "\(all)")
        // And lift down.
        h.probeSent(sequence: 8, at: ms(3200), target: gateway)
        let up = h.probeAnswered(sequence: 8, at: ms(3201))
        #expect(up.map(\.to) == [.up] && up.first?.evidence.contains("from 10.1.1.1") == true, "\(up)")
    }

    @Test func aDownPathIsNotLiftedByItsGatewayOnceAFarTargetAnsweredButByAFarAnswer() {
        var h = bothAnswered()
        _ = upstreamDead(&h, from: 3, peerProbes: 3)
        #expect(h.state == .down)
        h.probeSent(sequence: 20, at: ms(8000), target: gateway)
        #expect(h.probeAnswered(sequence: 20, at: ms(8001)).isEmpty && h.state == .down)
        h.probeSent(sequence: 21, at: ms(8400), target: peer)
        let up = h.probeAnswered(sequence: 21, at: ms(8420))
        #expect(up.map(\.to) == [.up] && h.state == .up, "\(up)")
        #expect(up.first?.evidence.contains("from 10.3.0.1") == true, "\(up)")
    }

    @Test func theGatewaysRTTDoesNotShortenTheFarTargetsTimeout() {
        var h = PathHealth(key: key, settings: ProbeSettings())
        for seq: UInt16 in 1...4 {
            h.probeSent(sequence: seq, at: ms(400 * Int(seq)), target: gateway)
            h.probeAnswered(sequence: seq, at: ms(400 * Int(seq) + 1))
        }
        #expect(h.srtt == ms(1))
        // The first far answer restarts the estimator: srtt is the far RTT, not ⅞ of the gateway's.
        h.probeSent(sequence: 5, at: ms(2000), target: peer)
        h.probeAnswered(sequence: 5, at: ms(2080))
        #expect(h.srtt == ms(80) && h.probeTimeout == ms(240))
        // Later gateway answers (a probe in flight at the switch) leave it alone.
        h.probeSent(sequence: 6, at: ms(2400), target: gateway)
        h.probeAnswered(sequence: 6, at: ms(2401))
        #expect(h.srtt == ms(80))
    }

    @Test func aLateGatewayAnswerDoesNotEndARunOfFarLosses() {
        var h = bothAnswered()
        h.probeSent(sequence: 3, at: ms(800), target: gateway)
        _ = h.tick(at: ms(1199))
        h.probeSent(sequence: 4, at: ms(1200), target: peer)
        _ = h.tick(at: ms(1599))
        _ = h.probeAnswered(sequence: 3, at: ms(1600))
        h.probeSent(sequence: 5, at: ms(1600), target: peer)
        let t = h.tick(at: ms(1999))
        #expect(t.map(\.to) == [.down], "lost gateway, lost peer, lost peer: 3 in a row; the late gateway answer is no evidence: \(t)")
    }

    @Test func theGatewayCountsAgainWhenNoFarTargetThatAnsweredIsProbedAnyMore() {
        var h = bothAnswered()
        h.retarget([gateway, peer])
        _ = upstreamDead(&h, from: 3, peerProbes: 3)
        #expect(h.state == .down)
        // The peer's connections closed: the gateway is all that is left to ask.
        h.retarget([gateway])
        #expect(!h.farTargetAnswered)
        h.probeSent(sequence: 20, at: ms(8000), target: gateway)
        #expect(h.probeAnswered(sequence: 20, at: ms(8001)).map(\.to) == [.up])
    }

    @Test func theGatewayIsNearAndAnAddressThatIsAlsoAPeerOrConfiguredIsFar() {
        let gw = IPAddress.v4([10, 1, 1, 1]), server = IPAddress.v4([10, 3, 0, 1])
        var settings = ProbeSettings()
        var path = ProbePath(key: key, interfaceIndex: 2, source: .v4([10, 1, 1, 2]), addresses: [.v4([10, 1, 1, 2])],
                             gateway: gw, peers: [server], settings: settings)
        #expect(path.destinations.map(\.isNear) == [true, false])
        #expect(path.destinations == [ProbeDestination(address: gw), ProbeDestination(address: server)],
                "nearness is not identity: the same place, whatever its role")
        path.peers = [gw, server]
        #expect(path.destinations.map(\.address) == [gw, server] && path.destinations.map(\.isNear) == [false, false],
                "the gateway is also a peer: probed once, far")
        settings.targets = [.gateway, .echo(gw)]
        path.settings = settings
        #expect(path.destinations.count == 1 && path.destinations.first?.isNear == false, "configured explicitly: far")
        #expect(Set([ProbeDestination(address: gw, isNear: true), ProbeDestination(address: gw)]).count == 1)
    }
}
