import MPTCPAPI
import Synchronization
import Testing
@testable import MPTCPDaemon
#if canImport(Glibc)
import Glibc
#endif

/// The manager owned by one thread (the event thread in the daemon): a call
/// from another thread runs there, has run when it returns, and what it
/// publishes names the caller's cause.
@Suite struct ConnectionManagerOwnerTests {
    @Test func aCallFromAnotherThreadRunsOnTheOwnerBeforeItReturnsUnderTheCallersCause() async throws {
        let rig = try ConnectionManagerTests()
        let publishedOn = Atomic<UInt>(0)
        let watcher = EventHub.Subscriber(kinds: [.action], capacity: 10,
                                          wake: { publishedOn.store(UInt(pthread_self()), ordering: .relaxed) })
        rig.hub.add(watcher)
        let owner = MailboxOwner(rig.manager.mailbox)
        #expect(owner.start())

        rig.hub.attributing(to: EventCause(trigger: "reload")) { rig.manager.handle([ConnectionManagerTests.established]) }
        #expect(rig.kernel.take() == [rig.wantedJoin], "sent before the call returned")
        let actions = watcher.take().compactMap { if case .event(let e) = $0 { e } else { nil } }
        #expect(actions.map(\.type) == ["subflow_requested"])
        #expect(actions.first?.fields["cause"]?.stringValue == "reload", "the caller's cause")
        #expect(publishedOn.load(ordering: .relaxed) == owner.id.load(ordering: .relaxed), "run on the owning thread")
        #expect(rig.manager.count == 1)

        await owner.stop()
        #expect(rig.manager.policyNames() == [ConnectionManagerTests.token: "web"], "after the owner: run on the caller")
    }
}
