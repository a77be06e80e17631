import MPTCPAPI
import MPTCPKit
import MPTCPPolicy
import Testing
@testable import MPTCPDaemon

/// What the service publishes when things go otherwise than asked: a failed
/// join with its attempt and backoff, its retry, a refused destroy.
extension ConnectionManagerTests {
    /// The action events published since the last call.
    func actionEvents() -> [DaemonEvent] {
        published.take().compactMap { if case .event(let e) = $0, e.kind == .action { e } else { nil } }
    }

    /// An established connection whose join via eth1 is still half-open at its deadline (7 s).
    func joinTimedOut() -> Subflow {
        manager.handle([Self.established])
        _ = kernel.take()
        _ = actionEvents()
        let halfOpen = Subflow(token: Self.token, local: AddressAndPort(address: Self.join, port: 50000), remote: Self.remote,
                               localID: 1, interfaceIndex: eth1, state: .synSent)
        let initial = Subflow(token: Self.token, local: Self.local, remote: Self.remote, localID: 0, interfaceIndex: 2)
        kernel.table = [Connection(token: Self.token, side: .client, local: Self.local, remote: Self.remote,
                                   subflows: [initial, halfOpen])]
        clock.set(7000)
        manager.timerFired()
        return halfOpen
    }

    @Test func aTimedOutJoinIsPublishedAsAFailureWithItsBackoffAndItsRetryAsARequestSayingWhichRetry() throws {
        _ = joinTimedOut()
        let events = actionEvents()
        #expect(events.map(\.type) == ["subflow_failed", "subflow_destroyed"])
        let failed = try #require(events.first)
        #expect(failed.fields["token"] == "00000007" && failed.fields["error"] == "join timed out")
        #expect(failed.fields["local"] == "10.0.1.1:50000" && failed.fields["remote"] == "10.9.0.2:443")
        #expect(failed.fields["attempt"] == 1 && failed.fields["timeout_ms"] == 7000)
        let delay = try #require(manager.millisecondsToWake())
        #expect(failed.fields["retry_in_ms"] == .integer(Int64(delay)), "the backoff the timer then waits")
        clock.set(7000 + delay)
        manager.timerFired()
        let retry = try #require(actionEvents().first)
        #expect(retry.type == "subflow_requested" && retry.fields["retry"] == 1 && retry.fields["retries"] == 3, "\(retry.text)")
    }

    @Test func aFirstRequestSaysNoRetry() throws {
        manager.handle([Self.established])
        let requested = try #require(actionEvents().first)
        #expect(requested.type == "subflow_requested" && requested.fields["retry"] == nil)
    }

    @Test func aDestroyTheKernelRefusesIsPublishedWithItsError() throws {
        kernel.destroyAnswers = [MPTCPError(code: .kernel, operation: "destroy subflow", errno: 1, kernelMessage: "not allowed")]
        let halfOpen = joinTimedOut()
        let events = actionEvents()
        #expect(events.map(\.type) == ["subflow_failed", "subflow_destroy_refused"])
        let refused = try #require(events.last)
        #expect(refused.fields["local_address"] == .string(halfOpen.localAddress.description) && refused.fields["local_port"] == 50000)
        #expect(refused.fields["error"]?.stringValue?.contains("not allowed") == true, "\(refused.text)")
    }
}
