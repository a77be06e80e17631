import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// The userspace path manager's state machine, driven by event sequences: eth0
/// (10.0.0.1, the initial path) and eth1 (10.0.1.1) active, a client connection
/// 7 to 10.9.0.2:443 under per-interface, which wants one subflow via eth1.
@Suite struct ConnectionTrackerTests {
    var world = World()
    let eth0: Int32
    let eth1: Int32
    static let token: UInt32 = 7
    static let local = AddressAndPort(address: IPAddress("10.0.0.1")!, port: 40000)
    static let remote = AddressAndPort(address: IPAddress("10.9.0.2")!, port: 443)
    static let join = IPAddress("10.0.1.1")!

    init() {
        eth0 = world.link("eth0")
        eth1 = world.link("eth1")
        world.add("10.0.0.1", on: eth0)
        world.add("10.0.1.1", on: eth1)
    }

    static func policy(_ name: String = "web", _ strategy: Strategy = .perInterface, joinTimeout: Int = 7000) -> Policy {
        var c = ConnectionPolicy(name: name)
        c.strategy = strategy
        c.position = 1
        c.retry = RetryPolicy(initialMilliseconds: 200, maximumMilliseconds: 30_000, attempts: 3, joinTimeoutMilliseconds: joinTimeout)
        return Policy(interfaces: [rule(["eth*"], .active, position: 1, announce: true)], connections: [c])
    }

    func tracker(_ policy: Policy = Self.policy()) -> ConnectionTracker {
        ConnectionTracker(policy: policy, network: world.snapshot, seed: 42)
    }

    static func event(_ type: EventType, server: Bool = false) -> Event {
        Event(type: type, token: token, localAddress: local.address, remoteAddress: remote.address,
              localPort: local.port, remotePort: remote.port, flags: server ? .serverSide : nil)
    }

    static func subflowClosed(localPort: UInt16, error: UInt8) -> Event {
        Event(type: .subflowClosed, token: token, localAddress: join, remoteAddress: remote.address,
              localPort: localPort, remotePort: 0, error: error)
    }

    static let refusal = MPTCPError(code: .kernel, operation: "create subflow", errno: 22, kernelMessage: "some refusal")

    /// ESTABLISHED, then a decision at `now`: the creation it queued.
    func establishedAndDecided(_ t: inout ConnectionTracker, now: Int = 0) -> [PendingCreate] {
        let effect = t.apply(Self.event(.established), now: now)
        #expect(effect.touched == [Self.token])
        #expect(t.decide(Self.token, now: now) != nil)
        return t.takeCreates()
    }

    @Test func anEstablishedConnectionGetsOneSubflowPerOtherInterface() {
        var t = tracker()
        let creates = establishedAndDecided(&t)
        #expect(creates.map(\.slot.local) == [Self.join])
        #expect(creates.first?.policy.name == "web")
        #expect(creates.first?.previousFailure == nil, "a first request, not a retry")
        #expect(t.nextWake() == 7000, "the join's deadline")
    }

    @Test func notYetEstablishedWaitsForItsEventAndIsAskedAgainThen() {
        var t = tracker()
        let creates = establishedAndDecided(&t)
        let settled = t.settle(creates: creates, [.notYetEstablished], now: 5)
        #expect(settled.map(\.outcome) == [.notYetEstablished])
        #expect(t.connections[Self.token]?.established == false)
        #expect(t.connections[Self.token]?.memory.pending.isEmpty == true, "its memory is as before the decision")
        #expect(t.decide(Self.token, now: 10) == nil, "not decided before its ESTABLISHED")
        #expect(establishedAndDecided(&t, now: 20).map(\.slot.local) == [Self.join], "asked again once established")
    }

    @Test func anotherPathManagersConnectionIsMarkedForeignAndLeftAlone() {
        var t = tracker()
        let creates = establishedAndDecided(&t)
        let other = MPTCPError(code: .kernel, operation: "create subflow", errno: 22, kernelMessage: "userspace PM not selected")
        #expect(CommandOutcome(other) == .otherPathManager(other))
        _ = t.settle(creates: creates, [CommandOutcome(other)], now: 5)
        #expect(t.connections[Self.token]?.foreign == true)
        #expect(t.decide(Self.token, now: 10) == nil)
        #expect(t.managedViews.isEmpty)
    }

    @Test func aConnectionGoneWhenItsSubflowIsCreatedIsForgotten() {
        var t = tracker()
        let creates = establishedAndDecided(&t)
        let gone = MPTCPError(code: .kernel, operation: "create subflow", errno: 22, kernelMessage: "invalid token")
        #expect(CommandOutcome(gone) == .connectionGone)
        let settled = t.settle(creates: creates, [CommandOutcome(gone)], now: 5)
        #expect(settled.map(\.outcome) == [.connectionGone])
        #expect(t.connections.isEmpty)
        #expect(t.nextWake() == nil)
    }

    @Test func aConnectionClosedWhileItsCreationIsPendingSettlesNothing() {
        var t = tracker()
        let creates = establishedAndDecided(&t)
        _ = t.apply(Self.event(.closed), now: 1)
        #expect(t.settle(creates: creates, [.sent], now: 2).isEmpty, "nothing to settle for a closed connection")
        #expect(t.connections.isEmpty)
        #expect(t.nextWake() == nil, "its join deadline is dropped with it")
    }

    @Test func aRefusedSubflowBacksOffAndIsRetriedWhenItsBackoffIsDue() throws {
        var t = tracker()
        let creates = establishedAndDecided(&t)
        let settled = t.settle(creates: creates, [CommandOutcome(Self.refusal)], now: 100)
        #expect(settled.map(\.outcome) == [.refused(Self.refusal)])
        let failure = try #require(t.connections[Self.token]?.memory.failures[creates[0].slot])
        #expect(failure.attempts == 1)
        #expect((300..<350).contains(failure.nextAttempt), "200 ms and up to 25 % jitter after the refusal")
        #expect(t.nextWake() == failure.nextAttempt)
        #expect(t.due(failure.nextAttempt - 1).isEmpty, "not before its time")
        #expect(t.due(failure.nextAttempt) == [Self.token])
        _ = t.decide(Self.token, now: failure.nextAttempt)
        let retry = t.takeCreates()
        #expect(retry.map(\.slot) == [creates[0].slot], "asked again after the backoff")
        #expect(retry.first?.previousFailure?.attempts == 1, "as retry 1")
    }

    @Test func aSubflowClosedWithAnErrorBacksOffWithItsAttempt() {
        var t = tracker()
        let creates = establishedAndDecided(&t)
        _ = t.settle(creates: creates, [.sent], now: 1)
        let effect = t.apply(Self.subflowClosed(localPort: 50000, error: 111), now: 50)
        #expect(effect.touched == [Self.token])
        #expect(effect.failure?.attempt == 1)
        #expect(effect.failure?.error == "111")
        #expect(effect.failure.map { (200..<250).contains($0.retryInMilliseconds) } == true)
    }

    @Test func anUnannounceableAddressIsWarnedAboutOnceUntilThePolicyChanges() {
        var t = tracker()
        _ = t.apply(Self.event(.established, server: true), now: 0)
        #expect(t.needsListeners(Self.token))
        let first = t.decide(Self.token, now: 0, listeners: [])
        #expect(first?.refusedAnnouncements.map(\.firstTime) == [true])
        #expect(first?.refusedAnnouncements.first?.address == "10.0.1.1:40000")
        _ = t.apply(Self.event(.established, server: true), now: 1)
        let again = t.decide(Self.token, now: 1, listeners: [])
        #expect(again?.refusedAnnouncements.map(\.firstTime) ?? [] == [], "memory says it was found unannounceable")
        t.update(policy: Self.policy(), network: world.snapshot, policyChanged: true)
        var forgetful = t
        forgetful.connections[Self.token]?.memory.unannounceable = []
        #expect(forgetful.decide(Self.token, now: 2, listeners: [])?.refusedAnnouncements.map(\.firstTime) == [true],
                "warned again after a new policy")
    }

    @Test func aHalfOpenJoinPastItsTimeoutIsDestroyedAndCountedAsAFailure() throws {
        var t = tracker()
        let creates = establishedAndDecided(&t)
        _ = t.settle(creates: creates, [.sent], now: 1)
        #expect(t.nextWake() == 7000)
        #expect(t.due(7000) == [Self.token])
        #expect(t.overdue([Self.token], now: 6999).isEmpty)
        #expect(t.overdue([Self.token], now: 7000) == [Self.token], "its subflows are read again first")
        let halfOpen = Subflow(token: Self.token, local: AddressAndPort(address: Self.join, port: 50000), remote: Self.remote,
                               localID: 1, interfaceIndex: eth1, state: .synSent)
        let initial = Subflow(token: Self.token, local: Self.local, remote: Self.remote, localID: 0, interfaceIndex: eth0)
        let table = [Connection(token: Self.token, side: .client, local: Self.local, remote: Self.remote, subflows: [initial, halfOpen])]
        #expect(t.refreshSubflows([Self.token], from: table).isEmpty)
        let decided = t.decide(Self.token, now: 7000)
        let d = try #require(decided)
        #expect(d.joinTimeouts.count == 1, "counted")
        #expect(d.joinTimeouts.first?.error == "join timed out")
        #expect(d.joinTimeouts.first?.timeoutMilliseconds == 7000)
        #expect(d.joinTimeouts.first?.attempt == 1)
        let destroy = try #require(d.commands.first)
        guard case .destroy(let s, _) = destroy.action else { Issue.record("not a destroy: \(destroy.action)"); return }
        #expect(s.local.port == 50000)
        #expect(t.takeCreates().isEmpty, "no second join beside the half-open one")
        #expect(t.settle(destroy, .sent, now: 7001) == .kept)
        #expect(t.apply(Self.subflowClosed(localPort: 50000, error: 104), now: 7002).failure == nil, "our own close is no failure")
    }

    @Test func aTimedOutJoinWhoseDestroyIsRefusedStaysPending() throws {
        var t = tracker()
        _ = t.settle(creates: establishedAndDecided(&t), [.sent], now: 1)
        let halfOpen = Subflow(token: Self.token, local: AddressAndPort(address: Self.join, port: 50000), remote: Self.remote,
                               localID: 1, interfaceIndex: eth1, state: .synSent)
        _ = t.refreshSubflows([Self.token], from: [Connection(token: Self.token, side: .client, local: Self.local, remote: Self.remote,
                                                              subflows: [halfOpen])])
        let destroy = try #require(t.decide(Self.token, now: 7000)?.commands.first)
        #expect(t.settle(destroy, .refused(Self.refusal), now: 7000) == .kept)
        #expect(t.connections[Self.token]?.memory.pending.values.first == 14000, "pending for another join_timeout")
    }

    @Test func aConnectionWhoseEventsWereLostIsAdoptedFromTheTable() {
        var t = tracker()
        let seenBefore: UInt32 = 9
        _ = t.apply(Event(type: .established, token: seenBefore, localAddress: Self.local.address, remoteAddress: Self.remote.address,
                          localPort: 40001, remotePort: 443), now: 0)
        let initial = Subflow(token: Self.token, local: Self.local, remote: Self.remote, localID: 0, interfaceIndex: eth0)
        let table = [
            Connection(token: Self.token, side: .client, local: Self.local, remote: Self.remote, subflows: [initial]),
            Connection(token: 11, side: .client, local: Self.local, remote: Self.remote, fallback: true),
            Connection(token: 12, side: .client, local: Self.local, remote: Self.remote, state: .synSent),
        ]
        #expect(ConnectionTracker.adoptable(table).map(\.token) == [Self.token], "not a fallback, not one still connecting")
        let adoption = t.adopt(table, addresses: [Self.token: .success([])])
        #expect(adoption.forgotten == 1, "the one whose CLOSED was lost")
        #expect(t.tokens == [Self.token])
        #expect(t.connections[Self.token]?.established == true)
        #expect(t.decide(Self.token, now: 0) != nil)
        #expect(t.takeCreates().map(\.slot.local) == [Self.join])
    }

    @Test func anAdoptedConnectionOfTheInKernelPathManagerIsForeign() {
        var t = tracker()
        let other = MPTCPError(code: .kernel, operation: "get addresses", errno: 22, kernelMessage: "userspace PM not selected")
        let adoption = t.adopt([Connection(token: Self.token, side: .client, local: Self.local, remote: Self.remote)],
                               addresses: [Self.token: .failure(other)])
        #expect(adoption.foreign == 1)
        #expect(t.decide(Self.token, now: 0) == nil)
    }

    @Test func aReloadThatChangesAConnectionsPolicyDecidesUnderTheNewOne() throws {
        var t = tracker()
        _ = t.settle(creates: establishedAndDecided(&t), [.sent], now: 1)
        #expect(t.policyNames == [Self.token: "web"])
        t.update(policy: Self.policy("lean", .single), network: world.snapshot, policyChanged: true)
        let joined = SubflowView(local: AddressAndPort(address: Self.join, port: 50000), remote: Self.remote, localID: 1,
                                 backup: false, interfaceIndex: eth1)
        _ = t.apply(Event(type: .subflowEstablished, token: Self.token, localID: 1, localAddress: joined.local.address,
                          remoteAddress: joined.remote.address, localPort: 50000, remotePort: 443, interfaceIndex: eth1), now: 2)
        let decided = t.decide(Self.token, now: 3)
        let d = try #require(decided)
        #expect(d.policy.name == "lean")
        #expect(t.policyNames == [Self.token: "lean"])
        #expect(d.commands.map(\.action) == [.destroy(joined, reason: "not wanted by lean (single, max_subflows 8)")])
    }

    @Test func aHandMadeSubflowIsPinnedOnlyOnATrackedConnection() {
        var t = tracker()
        let untracked = t.setManual(token: Self.token, local: Self.join, remote: Self.remote, pinned: true)
        #expect(!untracked)
        _ = establishedAndDecided(&t)
        let pinned = t.setManual(token: Self.token, local: Self.join, remote: Self.remote, pinned: true)
        #expect(pinned)
        #expect(t.connections[Self.token]?.memory.manual.count == 1)
    }

    @Test func theSameInputsGiveTheSameAnswers() {
        func run() -> [ConnectionMemory.Failure] {
            var t = tracker()
            let creates = establishedAndDecided(&t)
            _ = t.settle(creates: creates, [.refused(Self.refusal)], now: 100)
            return Array(t.connections[Self.token]!.memory.failures.values)
        }
        #expect(run() == run(), "time and jitter are inputs")
    }
}
