@testable import MPTCPDaemon
import MPTCPKit
import Synchronization
import Testing

/// The in-kernel path manager's daemon tells of subflows the peer reset for a
/// cause, within its log budget.
@Suite struct LostSubflowReporterTests {
    static func reset(_ reason: UInt32, port: UInt16, serverSide: Bool = false) -> EventNotice {
        .event(Event(type: .subflowClosed, token: 0x0102_0304, localAddress: IPAddress("10.1.2.2"),
                     remoteAddress: IPAddress("10.3.0.1"), localPort: port, remotePort: 6001,
                     flags: serverSide ? .serverSide : nil, resetReason: reason, resetFlags: 0))
    }

    @Test func eachLossIsLoggedOncePerIntervalAndTheNextLineCountsTheRest() {
        let capture = LogCapture()
        let now = Atomic<Int>(0)
        let reporter = LostSubflowReporter(logger: capture.logger, clock: { now.load(ordering: .relaxed) })
        let message = "the peer reset a subflow and the in-kernel path manager will not open it again: the connection runs without this path"

        reporter.note([Self.reset(1, port: 40_001), Self.reset(0, port: 40_002), .eventsLost,
                       .event(Event(type: .subflowClosed, token: 9)), Self.reset(1, port: 40_003)])
        var lines = capture.lines(message)
        #expect(lines.count == 1, "the unspecified reset and the plain close are not losses; the third is held back")
        #expect(lines.first?.level == .warning)
        #expect(lines.first?.metadata["local"] == "10.1.2.2:40001")
        #expect(lines.first?.metadata["remote"] == "10.3.0.1:6001")
        #expect(lines.first?.metadata["reason"] == "MPTCP-specific error (1)")
        #expect(lines.first?.metadata["token"] == formatToken(0x0102_0304))
        #expect(lines.first?.metadata["held_back"] == nil)

        now.store(LostSubflowReporter.logInterval, ordering: .relaxed)
        reporter.note([Self.reset(3, port: 40_004)])
        lines = capture.lines(message)
        #expect(lines.count == 2)
        #expect(lines.last?.metadata["reason"] == "administratively prohibited (3)")
        #expect(lines.last?.metadata["held_back"] == "1")
    }

    @Test func onTheServerSideThePeerDecides() {
        let capture = LogCapture()
        let reporter = LostSubflowReporter(logger: capture.logger, clock: { 0 })
        reporter.note([Self.reset(1, port: 6001, serverSide: true)])
        #expect(capture.lines("the peer reset a subflow; the peer opened this connection and decides whether to open the subflow again").count == 1)
    }
}
