import Logging
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy
import Synchronization
import Testing
@testable import MPTCPDaemon

/// The userspace-PM service against a fake kernel: it sends what the tracker
/// decides, settles each answer, and publishes what happened. No sockets, no
/// sleeps: time is a counter the test moves.
@Suite struct ConnectionManagerTests {
    static let token: UInt32 = 0x0000_0007
    static let local = AddressAndPort(address: IPAddress("10.0.0.1")!, port: 40000)
    static let remote = AddressAndPort(address: IPAddress("10.9.0.2")!, port: 443)
    static let join = IPAddress("10.0.1.1")!

    /// The service's monotonic clock, moved by the test.
    final class Clock: Sendable {
        let milliseconds = Atomic<Int>(0)
        func set(_ t: Int) { milliseconds.store(t, ordering: .relaxed) }
        var read: @Sendable () -> Int { { self.milliseconds.load(ordering: .relaxed) } }
    }

    let kernel = FakeUserspacePM()
    let clock = Clock()
    let hub = EventHub()
    let published = EventHub.Subscriber(kinds: Set(DaemonEvent.Kind.allCases), capacity: 1000, wake: {})
    let manager: ConnectionManager
    let eth1: Int32 = 3

    init() throws {
        var c = ConnectionPolicy(name: "web")
        c.strategy = .perInterface
        c.position = 1
        c.retry = RetryPolicy(initialMilliseconds: 200, maximumMilliseconds: 30_000, attempts: 3, joinTimeoutMilliseconds: 7000)
        let rules = [InterfaceRule(names: [try Glob("eth*")], role: .active, position: 1)]
        let network = NetworkSnapshot(
            links: [Link(index: 2, name: "eth0", flags: 1, operState: .up), Link(index: 3, name: "eth1", flags: 1, operState: .up)],
            addresses: [InterfaceAddress(address: Self.local.address, prefixLength: 24, interfaceIndex: 2),
                        InterfaceAddress(address: Self.join, prefixLength: 24, interfaceIndex: 3)],
            defaultRoutes: [])
        hub.add(published)
        manager = ConnectionManager(kernel: kernel, namespace: .current, logger: Logger(label: "test"),
                                    policy: Policy(interfaces: rules, connections: [c]), network: network, hub: hub,
                                    seed: 42, clock: clock.read)
    }

    static let established = EventNotice.event(Event(type: .established, token: token, localAddress: local.address,
                                                     remoteAddress: remote.address, localPort: local.port, remotePort: remote.port))

    /// The join via eth1 the policy wants.
    var wantedJoin: FakeUserspacePM.Request {
        .create(PathManager.SubflowRequest(token: Self.token, local: Endpoint(id: 1, address: Self.join, interfaceIndex: eth1),
                                           remote: Self.remote))
    }

    /// The actions published since the last call, by type.
    func actions() -> [String] {
        published.take().compactMap { if case .event(let e) = $0, e.kind == .action { e.type } else { nil } }
    }

    @Test func anEstablishedConnectionGetsTheSubflowTheTrackerDecides() {
        manager.handle([Self.established])
        #expect(kernel.take() == [wantedJoin])
        #expect(actions() == ["subflow_requested"])
        #expect(manager.counters["subflows_created"] == 1)
        #expect(manager.millisecondsToWake() == 7000, "the event thread wakes at the join's deadline")
    }

    @Test func aRefusedSubflowIsPublishedAndSentAgainWhenItsBackoffIsDue() throws {
        kernel.createAnswers = [FakeUserspacePM.refused]
        manager.handle([Self.established])
        #expect(kernel.take() == [wantedJoin])
        #expect(actions() == ["subflow_refused"])
        let delay = try #require(manager.millisecondsToWake())
        #expect((200..<250).contains(delay), "200 ms and its jitter")
        clock.set(delay - 1)
        manager.timerFired()
        #expect(kernel.take().isEmpty, "not before its time")
        clock.set(delay)
        manager.timerFired()
        #expect(kernel.take() == [wantedJoin])
        #expect(actions() == ["subflow_requested"])
        #expect(manager.counters["subflows_recreated"] == 1)
    }

    @Test func aConnectionGoneBeforeItsSubflowIsCreatedIsForgotten() {
        kernel.createAnswers = [FakeUserspacePM.invalidToken("create subflow")]
        manager.handle([Self.established])
        #expect(kernel.take() == [wantedJoin])
        #expect(manager.count == 0)
        #expect(manager.policyNames().isEmpty, "not in the table the API lists")
        #expect(manager.counters["connections_gone"] == 1)
        #expect(actions() == ["connection_gone"], "published as gone, not reported as a refusal")
        #expect(manager.millisecondsToWake() == nil, "no timer for a forgotten connection")
        clock.set(60_000)
        manager.timerFired()
        manager.decideAll()
        #expect(kernel.take().isEmpty, "nothing retried")
        #expect(manager.counters["connections_gone"] == 1, "counted once")
    }

    /// The race of `aConnectionClosedBeforeItsSubflowsAreCreatedIsForgottenAndCounted`
    /// (kernel tests) without the pause: the CLOSED event comes in the same batch
    /// as ESTABLISHED, so nothing is asked for at all.
    @Test func aConnectionClosedInTheSameBatchAsItsEstablishedGetsNothing() {
        let closed = EventNotice.event(Event(type: .closed, token: Self.token))
        manager.handle([Self.established, closed])
        #expect(kernel.take().isEmpty)
        #expect(manager.count == 0)
        #expect(manager.millisecondsToWake() == nil)
    }

    @Test func aConnectionNotYetEstablishedWaitsForItsEvent() {
        kernel.createAnswers = [FakeUserspacePM.notConnected]
        manager.handle([Self.established])
        #expect(manager.counters["adopted_before_established"] == 1)
        #expect(actions() == ["not_yet_established"], "published, not as a failure")
        #expect(manager.millisecondsToWake() == nil, "nothing pending: its memory is as before")
        manager.handle([Self.established])
        #expect(kernel.take() == [wantedJoin, wantedJoin], "asked again at its ESTABLISHED")
    }

    @Test func anInKernelPathManagersConnectionIsLeftAlone() {
        kernel.createAnswers = [MPTCPError(code: .kernel, operation: "create subflow", errno: 22, kernelMessage: "userspace PM not selected")]
        manager.handle([Self.established])
        _ = kernel.take()
        manager.decideAll()
        #expect(kernel.take().isEmpty, "never asked again")
        #expect(manager.count == 1)
    }

    @Test func lostEventsAreRecoveredByAdoptingTheConnectionTable() {
        let initial = Subflow(token: Self.token, local: Self.local, remote: Self.remote, localID: 0, interfaceIndex: 2)
        kernel.table = [Connection(token: Self.token, side: .client, local: Self.local, remote: Self.remote, subflows: [initial])]
        manager.handle([.eventsLost])
        #expect(kernel.take() == [.connectionTable, .addresses(token: Self.token), wantedJoin])
        #expect(manager.counters["events_lost"] == 1)
        #expect(published.take().contains { if case .event(let e) = $0 { e.kind == .resync } else { false } })
    }

    @Test func aHalfOpenJoinPastItsTimeoutIsReadAgainDestroyedAndRetriedAfterTheBackoff() throws {
        manager.handle([Self.established])
        _ = kernel.take()
        let halfOpen = Subflow(token: Self.token, local: AddressAndPort(address: Self.join, port: 50000), remote: Self.remote,
                               localID: 1, interfaceIndex: eth1, state: .synSent)
        let initial = Subflow(token: Self.token, local: Self.local, remote: Self.remote, localID: 0, interfaceIndex: 2)
        kernel.table = [Connection(token: Self.token, side: .client, local: Self.local, remote: Self.remote,
                                   subflows: [initial, halfOpen])]
        clock.set(7000)
        manager.timerFired()
        #expect(kernel.take() == [.connectionTable, .destroy(token: Self.token, local: halfOpen.localAddressAndPort, remote: Self.remote)])
        #expect(manager.counters["joins_timed_out"] == 1)
        #expect(manager.counters["subflows_failed"] == 1)
        let delay = try #require(manager.millisecondsToWake())
        clock.set(7000 + delay)
        manager.timerFired()
        #expect(kernel.take() == [wantedJoin], "retried after the backoff")
    }
}

extension Subflow {
    var localAddressAndPort: AddressAndPort { AddressAndPort(address: localAddress, port: localPort) }
}
