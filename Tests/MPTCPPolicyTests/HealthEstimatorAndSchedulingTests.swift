import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// The adaptive timeout (RFC 6298) and the probe schedule.
@Suite struct HealthEstimatorAndSchedulingTests {
    @Test func theTimeoutFollowsRFC6298() {
        var e = RTTEstimator(ceiling: ms(1200))
        #expect(e.srtt == nil && e.timeout == ms(1000))
        e.sample(ms(100))
        // srtt = R, rttvar = R/2, timeout = srtt + 4·rttvar.
        #expect(e.srtt == ms(100) && e.rttvar == ms(50) && e.timeout == ms(300))
        e.sample(ms(200))
        // rttvar = ¾·50 + ¼·|100 − 200| = 62.5; srtt = ⅞·100 + ⅛·200 = 112.5.
        #expect(e.rttvar == .microseconds(62_500) && e.srtt == .microseconds(112_500))
        #expect(e.timeout == .microseconds(362_500))
    }

    @Test func theTimeoutIsClampedBetweenFloorAndCeiling() {
        var e = RTTEstimator(ceiling: ms(1200))
        e.sample(ms(2))
        #expect(e.timeout == ms(50))
        for _ in 0..<50 { e.sample(ms(2)) }
        // rttvar near zero: srtt + G would be 3 ms; the floor holds.
        #expect(e.timeout == ms(50))
        e.sample(ms(5000))
        #expect(e.timeout == ms(1200))
    }

    @Test func backOffDoublesUpToTheCeilingAndASampleEndsIt() {
        var e = RTTEstimator(ceiling: ms(1200))
        e.sample(ms(100))
        e.backOff()
        #expect(e.timeout == ms(600))
        e.backOff()
        #expect(e.timeout == ms(1200))
        e.backOff()
        #expect(e.timeout == ms(1200) && e.backoff == 2)
        e.sample(ms(100))
        #expect(e.backoff == 0 && e.timeout < ms(600))
    }

    @Test func aFixedTimeoutIsUsedAsIs() {
        var s = ProbeSettings()
        s.timeoutMilliseconds = 250
        var h = PathHealth(key: PathKey(interface: "eth1", family: .ipv6), settings: s)
        h.probeSent(sequence: 1, at: .zero)
        #expect(h.nextDeadline() == ms(250))
        h.probeAnswered(sequence: 1, at: ms(5))
        #expect(h.probeTimeout == ms(250))
    }

    @Test func neverMoreThanOneProbePerInterval() {
        var h = PathHealth(key: PathKey(interface: "eth1", family: .ipv4), settings: ProbeSettings())
        #expect(h.dueProbe(at: .zero))
        h.probeSent(sequence: 1, at: ms(3))
        #expect(!h.dueProbe(at: ms(402)) && h.dueProbe(at: ms(403)))
        // A caller that wakes at odd times, often and late, never sends two within one interval.
        var sent: [Duration] = [ms(3)]
        var now = ms(3)
        var seq: UInt16 = 1
        for step in 0..<2000 {
            now += ms([7, 130, 1, 401, 55][step % 5])
            if h.dueProbe(at: now) {
                seq &+= 1
                h.probeSent(sequence: seq, at: now)
                sent.append(now)
            }
            _ = h.tick(at: now)
        }
        #expect(sent.count > 100)
        for (a, b) in zip(sent, sent.dropFirst()) { #expect(b - a >= ms(400)) }
    }

    @Test func nextDeadlineIsTheEarlierOfTheNextProbeAndATimeout() {
        var h = PathHealth(key: PathKey(interface: "eth1", family: .ipv4), settings: ProbeSettings())
        #expect(h.nextDeadline() == .zero)
        h.probeSent(sequence: 1, at: ms(100))
        // Before any sample the timeout is 1 s, capped at interval·loss = 1.2 s: the next probe comes first.
        #expect(h.nextDeadline() == ms(500))
        h.probeAnswered(sequence: 1, at: ms(110))
        h.probeSent(sequence: 2, at: ms(500))
        // srtt 10 ms, rttvar 5 ms: timeout max(50 ms, 30 ms).
        #expect(h.nextDeadline() == ms(550))
    }

    @Test func probingOffIsNeverDue() {
        var s = ProbeSettings()
        s.mode = .off
        let h = PathHealth(key: PathKey(interface: "eth1", family: .ipv4), settings: s)
        #expect(!h.dueProbe(at: .seconds(10)) && h.nextDeadline() == nil)
        var passiveOnly = ProbeSettings()
        passiveOnly.targets = []
        let p = PathHealth(key: PathKey(interface: "eth1", family: .ipv4), settings: passiveOnly)
        #expect(!p.probing && !p.dueProbe(at: .seconds(10)) && p.nextDeadline() == nil)
    }
}
