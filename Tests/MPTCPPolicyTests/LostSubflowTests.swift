import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// Which `sub_closed` events tell of a subflow the peer reset for a cause
/// (the in-kernel path manager's daemon reports them), and the log budget.
@Suite struct LostSubflowTests {
    static func closed(reason: UInt32?, flags: UInt32? = nil, token: UInt32? = 7, type: EventType = .subflowClosed,
                       serverSide: Bool = false) -> Event {
        Event(type: type, token: token, localAddress: IPAddress("10.1.2.2"), remoteAddress: IPAddress("10.3.0.1"),
              localPort: 40_000, remotePort: 443, flags: serverSide ? .serverSide : nil,
              resetReason: reason, resetFlags: flags)
    }

    @Test func aJoinTheReceiverRefusedIsLost() throws {
        // What Linux 6.18 sends when its receiver finds two mappings over the same bytes.
        let lost = try #require(LostSubflow(Self.closed(reason: 1, flags: 0)))
        #expect(lost.token == 7)
        #expect("\(lost.local)" == "10.1.2.2:40000")
        #expect("\(lost.remote)" == "10.3.0.1:443")
        #expect(lost.reason == .mptcpError)
        #expect(lost.reason.name == "mptcp_error")
        #expect("\(lost.reason)" == "MPTCP-specific error")
        #expect(!lost.transient)
        #expect(!lost.serverSide)
    }

    @Test func theTransientFlagAndTheServerSideAreKept() throws {
        let lost = try #require(LostSubflow(Self.closed(reason: 3, flags: 1, serverSide: true)))
        #expect(lost.reason == .administrativelyProhibited)
        #expect(lost.transient)
        #expect(lost.serverSide)
    }

    @Test func resetsWithoutACauseAndOtherEventsAreNot() {
        #expect(LostSubflow(Self.closed(reason: nil)) == nil, "closed without a reset (a FIN, a local close)")
        #expect(LostSubflow(Self.closed(reason: 0)) == nil, "unspecified: aborts and connections torn down")
        #expect(LostSubflow(Self.closed(reason: 1, token: nil)) == nil)
        #expect(LostSubflow(Self.closed(reason: 1, type: .subflowEstablished)) == nil)
    }

    @Test func reasonsRFC8684DoesNotNameKeepTheirNumber() {
        let r = SubflowResetReason(rawValue: 9)
        #expect(r.name == "reason_9")
        #expect("\(r)" == "reason 9")
        #expect([1, 2, 3, 4, 5, 6].map { SubflowResetReason(rawValue: $0).name } == [
            "mptcp_error", "lack_of_resources", "administratively_prohibited", "too_much_outstanding_data",
            "unacceptable_performance", "middlebox_interference",
        ])
    }

    @Test func theBudgetAllowsOneLinePerIntervalAndTellsWhatItHeldBack() {
        var budget = ReportBudget(intervalMilliseconds: 10_000)
        #expect(budget.admit(at: 5) == 0, "the first report is a line")
        #expect(budget.admit(at: 6) == nil)
        #expect(budget.admit(at: 10_004) == nil, "one ms short of the interval")
        #expect(budget.heldBack == 2)
        #expect(budget.admit(at: 10_005) == 2, "the next line tells the two held back")
        #expect(budget.heldBack == 0)
        #expect(budget.admit(at: 50_000) == 0)
    }
}
