import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// `degraded` (RTT, loss), the recover hold, and failback from `down`.
@Suite struct HealthRecoveryTests {
    func settings(maxRTT: Int? = nil, maxLoss: Int? = nil) -> ProbeSettings {
        var s = ProbeSettings()
        s.maxRTTMilliseconds = maxRTT
        s.maxLossPercent = maxLoss
        return s
    }

    @Test func aPathWhoseSmoothedRTTIsOverMaxRTTIsDegraded() {
        var d = HealthDriver(settings(maxRTT: 100))
        d.run(until: ms(4000)) { _ in ms(20) }
        #expect(d.health.state == .up && d.transitions.isEmpty)
        // The RTT rises to 300 ms (a deep queue): srtt follows within a few probes.
        d.run(until: ms(10_000)) { _ in ms(300) }
        #expect(d.health.state == .degraded)
        #expect(d.transitions.map(\.to) == [.degraded])
        #expect(d.transitions.first?.evidence.contains("over max_rtt 100 ms") == true, "\(d.transitions)")
        #expect((d.transitions.first?.rttMilliseconds ?? 0) > 100)
    }

    @Test func aPathLosingMoreThanMaxLossOfTheLastTenProbesIsDegraded() {
        var d = HealthDriver(settings(maxLoss: 20))
        // Every third probe lost: never 3 in a row, 30 % of ten.
        var n = 0
        d.run(until: ms(8000)) { _ in n += 1; return n % 3 == 0 ? nil : ms(20) }
        #expect(d.health.state == .degraded)
        #expect(d.transitions.map(\.to) == [.degraded])
        #expect(d.transitions.first?.evidence.contains("over max_loss 20 %") == true, "\(d.transitions)")
    }

    @Test func lossIsNotJudgedBeforeTenProbes() {
        var d = HealthDriver(settings(maxLoss: 10))
        var n = 0
        // Probes 2 and 4 lost: 40 % of five, but fewer than ten probes judged.
        d.run(until: ms(1900)) { _ in n += 1; return n == 2 || n == 4 ? nil : ms(20) }
        #expect(d.health.state == .up && d.transitions.isEmpty)
    }

    @Test func aDegradedPathIsUpOnlyAfterRecoverHoldOfGoodFigures() {
        var d = HealthDriver(settings(maxRTT: 100))
        d.run(until: ms(6000)) { _ in ms(300) }
        #expect(d.health.state == .degraded)
        // The RTT falls back to 20 ms at 6 s: the figures are good from the first fast answer on.
        var t = 6000
        while d.health.goodSince == nil && t < 20_000 { t += 100; d.run(until: ms(t)) { _ in ms(20) } }
        #expect(d.health.state == .degraded)
        guard let good = d.health.goodSince else { Issue.record("no good figures yet"); return }
        d.run(until: good + ms(1999)) { _ in ms(20) }
        #expect(d.health.state == .degraded)
        d.run(until: good + ms(2000)) { _ in ms(20) }
        #expect(d.health.state == .up)
        #expect(d.transitions.map(\.to) == [.degraded, .up])
        #expect(d.transitions.last?.at == good + ms(2000))
        #expect(d.transitions.last?.evidence.contains("recover_hold") == true)
    }

    @Test func aBadFigureDuringTheRecoverHoldStartsItAgain() {
        var d = HealthDriver(settings(maxRTT: 100))
        d.run(until: ms(6000)) { _ in ms(300) }
        var t = 6000
        while d.health.goodSince == nil && t < 20_000 { t += 100; d.run(until: ms(t)) { _ in ms(20) } }
        guard let first = d.health.goodSince else { Issue.record("no good figures yet"); return }
        // One slow spell sends srtt back over the limit before the hold is over.
        d.run(until: first + ms(400)) { _ in ms(20) }
        d.run(until: first + ms(2400)) { _ in ms(300) }
        #expect(d.health.state == .degraded && d.transitions.map(\.to) == [.degraded])
        // The hold starts again from the next good figure.
        t = 0
        while d.health.goodSince == nil && t < 100 { t += 1; d.run(until: d.now + ms(100)) { _ in ms(20) } }
        guard let second = d.health.goodSince else { Issue.record("no good figures again"); return }
        #expect(second > first + ms(2000))
        d.run(until: second + ms(2000)) { _ in ms(20) }
        #expect(d.transitions.map(\.to) == [.degraded, .up])
        #expect(d.transitions.last?.at == second + ms(2000))
    }

    @Test func aDownPathIsUpAtTheFirstProbeAnsweredAfterItHeals() {
        // Failback ≤ 1 s: no recover_hold after `down` (a withdrawn path costs nothing to retry).
        for healAt in stride(from: 20_000, to: 20_400, by: 25) {
            var d = HealthDriver()
            d.run(until: ms(healAt)) { sent in sent < ms(10_000) ? ms(10) : nil }
            #expect(d.health.state == .down)
            d.run(until: ms(healAt + 5000)) { sent in sent >= ms(healAt) ? ms(10) : nil }
            #expect(d.health.state == .up)
            guard let up = d.transitions.last, up.to == .up else { Issue.record("\(d.transitions)"); continue }
            #expect(d.transitions.map(\.to) == [.down, .up])
            // At most one interval to the next probe, plus its round trip.
            #expect(up.at - ms(healAt) <= ms(410), "healed at \(healAt): up at \(up.at)")
            #expect(up.evidence.contains("probe answered"))
        }
    }

    @Test func aLateAnswerWhileDownIsASampleButDoesNotLiftDown() {
        var d = HealthDriver()
        d.run(until: ms(6000)) { sent in sent < ms(3000) ? ms(10) : nil }
        #expect(d.health.state == .down)
        var h = d.health
        let timeout = h.probeTimeout
        h.probeSent(sequence: 500, at: ms(6000))
        _ = h.tick(at: ms(6000) + timeout)
        #expect(h.probeAnswered(sequence: 500, at: ms(6000) + timeout + ms(100)).isEmpty)
        #expect(h.state == .down)
        #expect((h.srtt ?? .zero) > ms(100))
    }

    @Test func timeoutsBackOffOnlyWhileDown() {
        var d = HealthDriver()
        d.run(until: ms(4000)) { _ in ms(10) }
        let steady = d.health.probeTimeout
        // Two losses while up: the next probe's timeout is unchanged.
        d.run(until: ms(4850)) { _ in nil }
        #expect(d.health.state == .up && d.health.probeTimeout == steady)
        d.run(until: ms(8000)) { _ in nil }
        #expect(d.health.state == .down && d.health.probeTimeout > steady)
        #expect(d.health.probeTimeout <= d.health.settings.timeoutCeiling)
    }

    @Test func aHealedPathWhoseRTTIsStillOverMaxRTTComesBackDegraded() {
        var d = HealthDriver(settings(maxRTT: 100))
        d.run(until: ms(6000)) { sent in sent < ms(3000) ? ms(150) : nil }
        #expect(d.health.state == .down)
        d.run(until: ms(7000)) { _ in ms(150) }
        #expect(d.transitions.map(\.to) == [.degraded, .down, .degraded])
    }
}

/// One slow answer is not a slow path (`max_rtt` wants the last 3 samples over it).
@Suite struct HealthSlowFirstAnswerTests {
    @Test func aSlowFirstAnswerThenFastOnesNeverMakesThePathDegraded() {
        var s = ProbeSettings()
        s.maxRTTMilliseconds = 100
        var d = HealthDriver(s)
        var n = 0
        // The first answer waits 390 ms (neighbour discovery on a fresh IPv6 link; still before
        // the second probe leaves), the rest take 2 ms.
        d.run(until: ms(2500)) { _ in n += 1; return n == 1 ? ms(390) : ms(2) }
        #expect(d.health.estimator.srtt.map { $0 > ms(100) } == true, "the smoothed RTT is still over max_rtt")
        #expect(d.health.state == .up)
        #expect(d.transitions.isEmpty, "\(d.transitions)")
    }

    @Test func twoSlowAnswersAmongFastOnesDoNotMakeItDegradedButThreeInARowDo() {
        var s = ProbeSettings()
        s.maxRTTMilliseconds = 100
        var d = HealthDriver(s)
        var n = 0
        d.run(until: ms(4000)) { _ in n += 1; return n % 3 == 0 ? ms(2) : ms(400) }
        #expect(d.health.state == .up, "\(d.transitions)")
        d.run(until: ms(8000)) { _ in ms(400) }
        #expect(d.transitions.map(\.to) == [.degraded])
    }
}
