import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// Going `down`: lost probes, passive stalls, and how the two sources veto each other.
@Suite struct HealthDetectionTests {
    let key = PathKey(interface: "eth1", family: .ipv4)

    /// A path whose one target answered once at 10 ms.
    func answeredOnce(_ settings: ProbeSettings = ProbeSettings()) -> PathHealth {
        var h = PathHealth(key: key, settings: settings)
        h.probeSent(sequence: 1, at: .zero)
        h.probeAnswered(sequence: 1, at: ms(10))
        return h
    }

    @Test func thePathIsDownAfterLossProbesLostInARow() {
        var h = answeredOnce()
        #expect(h.state == .up)
        var all: [PathTransition] = []
        for (i, seq) in (2...4).enumerated() {
            let sent = ms(400 * (i + 1))
            h.probeSent(sequence: UInt16(seq), at: sent)
            let t = h.tick(at: sent + ms(399))
            all += t
            if seq < 4 { #expect(t.isEmpty && h.state == .up, "probe \(seq)") }
        }
        #expect(h.state == .down)
        #expect(all.count == 1 && all.first?.from == .up && all.first?.to == .down)
        #expect(all.first?.evidence.contains("3 probes lost in a row") == true, "\(all)")
    }

    @Test func anAnswerEndsTheRunOfLosses() {
        var h = answeredOnce()
        for seq: UInt16 in 2...3 { h.probeSent(sequence: seq, at: ms(400 * Int(seq))); _ = h.tick(at: ms(400 * Int(seq) + 399)) }
        h.probeSent(sequence: 4, at: ms(1600))
        h.probeAnswered(sequence: 4, at: ms(1610))
        for seq: UInt16 in 5...6 { h.probeSent(sequence: seq, at: ms(400 * Int(seq))); _ = h.tick(at: ms(400 * Int(seq) + 399)) }
        #expect(h.state == .up)
    }

    @Test func aLateAnswerForgivesTheLossesUntilItAndLengthensTheTimeout() {
        // The RTT jumps from 10 ms to 500 ms (a queue filling): slow, not broken.
        var h = answeredOnce()
        var all: [PathTransition] = []
        for seq: UInt16 in 2...3 {
            h.probeSent(sequence: seq, at: ms(400 * Int(seq)))
            all += h.tick(at: ms(400 * Int(seq) + 60))
        }
        #expect(h.lossPercent == 67)
        all += h.probeAnswered(sequence: 2, at: ms(1300))
        #expect(h.lossPercent == 33 && (h.srtt ?? .zero) > ms(50))
        #expect(h.probeTimeout > ms(500))
        h.probeSent(sequence: 4, at: ms(1600))
        all += h.probeAnswered(sequence: 4, at: ms(2100))
        #expect(all.isEmpty && h.state == .up, "\(all)")
    }

    @Test func aLateAnswerForgivesOnlyTheLossesOfProbesSentUntilIt() {
        // Probe 2 left just before the blackhole and its answer queued behind a
        // download at the router; probes 3 to 5 went into the hole. The late
        // answer proves the path at 400 ms, not after: 3, 4 and 5 are a run.
        var h = answeredOnce()
        var all: [PathTransition] = []
        h.probeSent(sequence: 2, at: ms(400))
        all += h.tick(at: ms(460))
        h.probeSent(sequence: 3, at: ms(800))
        all += h.tick(at: ms(860))
        all += h.probeAnswered(sequence: 2, at: ms(900))
        #expect(all.isEmpty && h.state == .up, "\(all)")
        h.probeSent(sequence: 4, at: ms(1200))
        all += h.tick(at: ms(1200) + h.probeTimeout)
        #expect(all.isEmpty && h.state == .up, "2 in a row: \(all)")
        h.probeSent(sequence: 5, at: ms(1600))
        all += h.tick(at: ms(1600) + h.probeTimeout)
        #expect(all.map(\.to) == [.down], "\(all)")
        #expect(all.first?.evidence.contains("3 probes lost in a row") == true, "\(all)")
    }

    @Test func dataDrainingFromARoutersQueueAfterTheBlackholeDoesNotHoldBackDown() {
        // A download arrives in every sample (every 200 ms, from 100 ms) until
        // 4100 ms: what the router had queued when the path went dark at 3950 ms.
        // The probes sent from 4000 ms on are lost.
        var h = PathHealth(key: key, settings: ProbeSettings())
        var all: [PathTransition] = []
        var received: UInt64 = 0
        var seq: UInt16 = 0
        for t in stride(from: 0, through: 6000, by: 100) {
            if t % 400 == 0 {
                seq += 1
                h.probeSent(sequence: seq, at: ms(t))
                if t < 3950 { all += h.probeAnswered(sequence: seq, at: ms(t + 10)) }
            }
            if t % 200 == 100 {
                if t <= 4100 { received += 50_000 }
                all += h.passive(PassiveSample(subflows: 1, established: 1, bytesAcked: 100, bytesReceived: received,
                                               maxBackoff: 0, hasUnackedData: false, lastAckAge: nil), at: ms(t))
            }
            all += h.tick(at: ms(t))
        }
        // Probes of 4000, 4400 and 4800 ms, each lost one timeout (the 50 ms floor) after it left.
        #expect(all.map(\.to) == [.down], "\(all)")
        #expect(all.first?.at == ms(4900), "\(all)")
    }

    @Test func targetsThatNeverAnsweredAreExploredUnlessARunOfLossesCountsOnAPathNotDown() {
        var h = answeredOnce()
        #expect(h.mayExplore)
        h.probeSent(sequence: 2, at: ms(400))
        _ = h.tick(at: ms(460))
        #expect(!h.mayExplore, "one lost: the next probes must be evidence")
        h.probeSent(sequence: 3, at: ms(800))
        _ = h.tick(at: ms(860))
        h.probeSent(sequence: 4, at: ms(1200))
        _ = h.tick(at: ms(1260))
        #expect(h.state == .down && h.mayExplore, "down: the targets that answered may be the ones gone")
        h.probeSent(sequence: 5, at: ms(1600))
        h.probeAnswered(sequence: 5, at: ms(1610))
        #expect(h.state == .up && h.mayExplore)
    }

    @Test func aRunLongerThanTheLossWindowStillCountsAfterAPassiveProofOfAnEarlierMoment() {
        // loss = 12: more lost probes than the 10 the loss window keeps.
        var settings = ProbeSettings()
        settings.loss = 12
        var h = answeredOnce(settings)
        var all: [PathTransition] = []
        _ = h.passive(PassiveSample(subflows: 1, established: 1, bytesAcked: 100, maxBackoff: 0, hasUnackedData: false,
                                    lastAckAge: nil), at: ms(200))
        for seq: UInt16 in 2...12 {
            h.probeSent(sequence: seq, at: ms(400 * Int(seq)))
            all += h.tick(at: ms(400 * Int(seq) + 60))
        }
        // Ack progress read at 4900 ms after a reading at 200 ms: it proves the path only at 200 ms less the RTT.
        all += h.passive(PassiveSample(subflows: 1, established: 1, bytesAcked: 900, maxBackoff: 0, hasUnackedData: false,
                                       lastAckAge: nil), at: ms(4900))
        #expect(all.isEmpty && h.state == .up, "11 lost: \(all)")
        h.probeSent(sequence: 13, at: ms(5200))
        all += h.tick(at: ms(5260))
        #expect(all.map(\.to) == [.down], "the 12th in a row: \(all)")
    }

    @Test func ackProgressOfAMomentBeforeTheFailureDoesNotLiftDown() {
        // Down on probes (the first lost one sent at 800 ms); the next reading,
        // a second after the one before, shows ACKs that may have come before 800 ms.
        var h = answeredOnce()
        _ = h.passive(PassiveSample(subflows: 1, established: 1, bytesAcked: 100, maxBackoff: 0, hasUnackedData: false,
                                    lastAckAge: nil), at: ms(700))
        for seq: UInt16 in 2...4 {
            h.probeSent(sequence: seq, at: ms(400 * Int(seq)))
            _ = h.tick(at: ms(400 * Int(seq) + 60))
        }
        #expect(h.state == .down)
        let stale = h.passive(PassiveSample(subflows: 1, established: 1, bytesAcked: 500, maxBackoff: 0, hasUnackedData: false,
                                            lastAckAge: nil), at: ms(1700))
        #expect(stale.isEmpty && h.state == .down, "proves 700 ms less the RTT, before the failure: \(stale)")
        let fresh = h.passive(PassiveSample(subflows: 1, established: 1, bytesAcked: 900, maxBackoff: 0, hasUnackedData: false,
                                            lastAckAge: nil), at: ms(1900))
        #expect(fresh.map(\.to) == [.up], "proves 1700 ms less the RTT: \(fresh)")
    }

    @Test func anUnreachableAnswerIsALossAtOnce() {
        var h = answeredOnce()
        var all: [PathTransition] = []
        for seq: UInt16 in 2...4 {
            h.probeSent(sequence: seq, at: ms(400 * Int(seq)))
            all += h.probeFailed(sequence: seq, at: ms(400 * Int(seq) + 1))
        }
        #expect(h.state == .down && all.map(\.to) == [.down])
        #expect(all.first?.evidence.contains("unreachable") == true)
    }

    /// Worst case with the defaults: loss·interval − rtt + timeout (see `ProbeSettings`).
    @Test func aBlackholedPathIsDownWithinOneAndAHalfSecondsWithDefaults() {
        let rtt = ms(10)
        var worst = Duration.zero
        // The blackhole starts at every phase of the probe schedule, 10 ms apart.
        for phase in stride(from: 0, to: 400, by: 10) {
            let blackhole = ms(8000 + phase)
            var d = HealthDriver()
            d.run(until: ms(14_000)) { sent in sent + rtt <= blackhole ? rtt : nil }
            guard let down = d.transitions.first(where: { $0.to == .down }) else {
                Issue.record("no down for phase \(phase)"); continue
            }
            #expect(d.transitions.count == 1, "\(d.transitions)")
            worst = max(worst, down.at - blackhole)
        }
        // 3·400 ms − 10 ms + 50 ms (the timeout floor on a steady 10 ms path).
        #expect(worst == ms(1240))
        #expect(worst <= ms(1500))
    }

    @Test func aStalledPathIsDownOnPassiveEvidence() {
        var h = PathHealth(key: key, settings: ProbeSettings())
        func sample(acked: UInt64, age: Int?, backoff: Int) -> PassiveSample {
            PassiveSample(subflows: 1, established: 1, bytesAcked: acked, maxBackoff: backoff, hasUnackedData: age != nil,
                          lastAckAge: age.map(ms))
        }
        #expect(h.passive(sample(acked: 1000, age: nil, backoff: 0), at: ms(100)).isEmpty)
        #expect(h.passive(sample(acked: 5000, age: 10, backoff: 0), at: ms(200)).isEmpty)
        #expect(h.state == .up)
        // Not yet: no ACK for 900 ms (below the 1 s floor), or only one RTO back-off.
        #expect(h.passive(sample(acked: 5000, age: 900, backoff: 3), at: ms(1100)).isEmpty)
        #expect(h.passive(sample(acked: 5000, age: 1200, backoff: 1), at: ms(1400)).isEmpty)
        let t = h.passive(sample(acked: 5000, age: 1300, backoff: 2), at: ms(1500))
        #expect(t.map(\.to) == [.down] && h.state == .down)
        #expect(t.first?.evidence.contains("no ACK for 1.3 s") == true, "\(t)")
        // Ack progress lifts it at once.
        let back = h.passive(sample(acked: 9000, age: 5, backoff: 0), at: ms(2000))
        #expect(back.map(\.to) == [.up] && back.first?.at == ms(2000))
    }

    @Test func passiveAckProgressVetoesAProbeOnlyDown() {
        var h = answeredOnce()
        _ = h.passive(PassiveSample(subflows: 1, established: 1, bytesAcked: 100, maxBackoff: 0, hasUnackedData: false,
                                    lastAckAge: nil), at: ms(100))
        var all: [PathTransition] = []
        for seq: UInt16 in 2...6 {
            let sent = ms(400 * Int(seq))
            h.probeSent(sequence: seq, at: sent)
            // The subflows make progress while the probes are lost (an ICMP filter on a healthy path).
            all += h.passive(PassiveSample(subflows: 1, established: 1, bytesAcked: 100 + UInt64(seq) * 1000, maxBackoff: 0,
                                           hasUnackedData: true, lastAckAge: ms(5)), at: sent + ms(100))
            all += h.tick(at: sent + ms(399))
        }
        #expect(all.isEmpty && h.state == .up, "\(all)")
        #expect(h.lossPercent == 83)
    }

    /// A path down on probes, then passive samples: `received` bytes in each.
    func downThenReceiving(_ received: [UInt64]) -> (PathHealth, [PathTransition]) {
        var h = answeredOnce()
        for seq: UInt16 in 2...4 {
            h.probeSent(sequence: seq, at: ms(400 * Int(seq)))
            _ = h.tick(at: ms(400 * Int(seq) + 399))
        }
        #expect(h.state == .down)
        var all: [PathTransition] = []
        var total: UInt64 = 0
        for (i, r) in received.enumerated() {
            total += r
            all += h.passive(PassiveSample(subflows: 1, established: 1, bytesAcked: 100, bytesReceived: total, maxBackoff: 0,
                                           hasUnackedData: false, lastAckAge: nil), at: ms(2000 + 200 * i))
        }
        return (h, all)
    }

    @Test func aFINOrAWindowReceivedAfterOurACKsStoppedDoesNotLiftDown() {
        // The peer's FIN (one byte), then the rest of its window, then nothing: the way out is still dead.
        let (h, all) = downThenReceiving([0, 1, 0, 0, 60_000, 40_000, 0, 0, 0])
        #expect(all.isEmpty && h.state == .down, "\(all)")
    }

    @Test func oneSampleWithMoreReceivedAfterAnIdleSecondIsNoProof() {
        // Idle readings come a second apart: the peer's FIN shows in one of them.
        var (h, all) = downThenReceiving([0])
        all += h.passive(PassiveSample(subflows: 1, established: 1, bytesAcked: 100, bytesReceived: 1, maxBackoff: 0,
                                       hasUnackedData: false, lastAckAge: nil), at: ms(3000))
        #expect(all.isEmpty && h.state == .down, "\(all)")
    }

    @Test func aDownloadThatKeepsArrivingForStallAfterLiftsDown() {
        // Samples every 200 ms, each with more data: proof once it lasted stallAfter (1 s).
        let (h, all) = downThenReceiving([0] + Array(repeating: 20_000, count: 7))
        #expect(all.map(\.to) == [.up], "\(all)")
        #expect(all.first?.at == ms(3200), "more data in every sample since the one at 2200 ms; 1 s later")
        #expect(all.first?.evidence.contains("data received") == true)
        #expect(h.state == .up)
    }

    @Test func aSubflowThatJoinsOrReappearsIsNotAckProgress() {
        var h = answeredOnce()
        for seq: UInt16 in 2...4 {
            h.probeSent(sequence: seq, at: ms(400 * Int(seq)))
            _ = h.tick(at: ms(400 * Int(seq) + 399))
        }
        #expect(h.state == .down)
        func sample(_ subflows: Int, _ established: Int, acked: UInt64) -> PassiveSample {
            PassiveSample(subflows: subflows, established: established, bytesAcked: acked, maxBackoff: 0,
                          hasUnackedData: false, lastAckAge: nil)
        }
        var all: [PathTransition] = []
        // A stalled subflow, then a second one (its handshake: one byte acked), then the first missing from a dump.
        all += h.passive(sample(1, 1, acked: 5000), at: ms(2000))
        all += h.passive(sample(2, 2, acked: 5001), at: ms(2200))
        all += h.passive(sample(1, 1, acked: 1), at: ms(2400))
        all += h.passive(sample(2, 2, acked: 5001), at: ms(2600))
        #expect(all.isEmpty && h.state == .down, "\(all)")
        // The same two subflows, more acked: progress.
        all += h.passive(sample(2, 2, acked: 9000), at: ms(2800))
        #expect(all.map(\.to) == [.up], "\(all)")
    }

    @Test func aProbeAnsweredSinceTheLastAckVetoesAPassiveDown() {
        var h = answeredOnce()
        h.probeSent(sequence: 2, at: ms(1000))
        h.probeAnswered(sequence: 2, at: ms(1010))
        // The subflows' last ACK was 1.5 s before 2000 ms, before that answer.
        let t = h.passive(PassiveSample(subflows: 1, established: 1, bytesAcked: 1, maxBackoff: 4, hasUnackedData: true,
                                        lastAckAge: ms(1500)), at: ms(2000))
        #expect(t.isEmpty && h.state == .up)
    }

    @Test func aTargetThatNeverAnsweredIsNotEvidence() {
        let silent = ProbeDestination(address: .v4([192, 0, 2, 9]))
        let gateway = ProbeDestination(address: .v4([192, 0, 2, 1]))
        var h = PathHealth(key: key, settings: ProbeSettings())
        for seq: UInt16 in 1...10 {
            h.probeSent(sequence: seq, at: ms(400 * Int(seq)), target: silent)
            #expect(h.tick(at: ms(400 * Int(seq) + 399)).isEmpty)
        }
        #expect(h.state == .unknown && h.lossPercent == nil && !h.hasAnswered(silent))
        // Once the gateway answers, the silent target's losses still do not count; the gateway's do.
        h.probeSent(sequence: 11, at: ms(4400), target: gateway)
        h.probeAnswered(sequence: 11, at: ms(4405))
        var all: [PathTransition] = []
        for seq: UInt16 in 12...15 {
            h.probeSent(sequence: seq, at: ms(400 * Int(seq)), target: seq % 2 == 0 ? silent : gateway)
            all += h.tick(at: ms(400 * Int(seq) + 399))
        }
        #expect(all.isEmpty && h.state == .up, "\(all)")
        h.probeSent(sequence: 16, at: ms(6400), target: gateway)
        all += h.tick(at: ms(6799))
        #expect(all.map(\.to) == [.down])
        #expect(all.first?.evidence.contains("to 192.0.2.1") == true, "\(all)")
    }
}
