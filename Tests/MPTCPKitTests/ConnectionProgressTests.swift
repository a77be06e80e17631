import Testing
@testable import MPTCPKit

/// `ConnectionProgress`: whether a connection moves data at the MPTCP level,
/// across readings, by `snd_una` and `rcv_nxt` only.
@Suite struct ConnectionProgressTests {
    /// A 6.18 `mptcp_info` of connection `token` with these sequence numbers
    /// (write_seq 100 past snd_una: data in flight).
    static func info(token: UInt32 = 7, snd una: UInt64, rcv: UInt64, unacked: UInt64 = 100, length: Int = 96) throws -> MPTCPInfo {
        var b = [UInt8](repeating: 0, count: length)
        func put64(_ v: UInt64, at: Int) { for i in 0..<8 where at + i < length { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
        for i in 0..<4 { b[12 + i] = UInt8(truncatingIfNeeded: token >> (8 * UInt32(i))) }
        put64(una + unacked, at: 16)
        put64(una, at: 24)
        put64(rcv, at: 32)
        return try MPTCPInfo(bytes: b)
    }

    @Test func aConnectionMovesWhileSndUnaOrRcvNxtGrewWithinTheWindow() throws {
        var p = ConnectionProgress()
        let t0 = ContinuousClock.now
        func at(_ ms: Int) -> ContinuousClock.Instant { t0 + .milliseconds(ms) }
        let r1 = p.moving(token: 7, info: try Self.info(snd: 1000, rcv: 50), at: at(0))
        #expect(r1, "first seen: moving")
        let r2 = p.moving(token: 7, info: try Self.info(snd: 2000, rcv: 50), at: at(200))
        #expect(r2, "our data acknowledged")
        let r3 = p.moving(token: 7, info: try Self.info(snd: 2000, rcv: 50), at: at(600))
        #expect(r3, "400 ms since: within 500 ms")
        let r4 = p.moving(token: 7, info: try Self.info(snd: 2000, rcv: 50), at: at(800))
        #expect(!r4, "stuck for 600 ms")
        let r5 = p.moving(token: 7, info: try Self.info(snd: 2000, rcv: 90, unacked: 0), at: at(1000))
        #expect(r5, "nothing of ours in flight: the peer's data received in order")
        let r6 = p.moving(token: 7, info: try Self.info(snd: 2000, rcv: 90, unacked: 0), at: at(1600))
        #expect(!r6)
    }

    @Test func aDownloadFlowingTheOtherWayDoesNotHideAStuckUpload() throws {
        var p = ConnectionProgress()
        let t0 = ContinuousClock.now
        _ = p.moving(token: 7, info: try Self.info(snd: 1000, rcv: 50), at: t0)
        let r1 = p.moving(token: 7, info: try Self.info(snd: 1000, rcv: 5000), at: t0 + .milliseconds(600))
        #expect(!r1, "our data stuck for 600 ms, whatever arrives")
    }

    @Test func connectionsNotSeenInAReadingAreForgotten() throws {
        var p = ConnectionProgress()
        let t0 = ContinuousClock.now
        _ = p.moving(token: 1, info: try Self.info(token: 1, snd: 1, rcv: 1), at: t0)
        _ = p.moving(token: 2, info: try Self.info(token: 2, snd: 1, rcv: 1), at: t0)
        p.endReading()
        #expect(p.count == 2)
        _ = p.moving(token: 2, info: try Self.info(token: 2, snd: 1, rcv: 1), at: t0 + .milliseconds(200))
        p.endReading()
        #expect(p.count == 1, "connection 1 closed")
        let r7 = p.moving(token: 1, info: try Self.info(token: 1, snd: 1, rcv: 1), at: t0 + .seconds(5))
        #expect(r7, "seen again: first seen")
    }

    @Test func aKernelWithoutTheSequenceNumbersCountsAsMoving() throws {
        var p = ConnectionProgress()
        let t0 = ContinuousClock.now
        let short = try Self.info(snd: 1, rcv: 1, length: 16)
        let r8 = p.moving(token: 7, info: short, at: t0)
        #expect(r8)
        let r9 = p.moving(token: 7, info: short, at: t0 + .seconds(10))
        #expect(r9)
    }

    @Test func aStuckConnectionHasNoDataInFlightInTheReading() throws {
        // The tally with a progress: a connection whose snd_una stands still
        // for longer than the window marks no address as carrying data in flight.
        var p = ConnectionProgress()
        let t0 = ContinuousClock.now
        _ = p.moving(token: 7, info: try Self.info(snd: 5000, rcv: 1), at: t0)
        var tally = TrafficTally(addresses: [], peersPerFamily: 0, progress: p, now: t0 + .seconds(1))
        let r10 = tally.inFlight(try Self.info(snd: 5000, rcv: 1))
        #expect(!r10, "unacknowledged data, but stuck for 1 s")
        let r11 = tally.inFlight(try Self.info(snd: 6000, rcv: 1))
        #expect(r11, "moving again")
    }
}
