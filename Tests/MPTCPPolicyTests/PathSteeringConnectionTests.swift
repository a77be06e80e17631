import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// Path health steering a userspace-PM connection (`ConnectionEngine`): the lab
/// of `ConnectionEngineTests` (eth0 initial and eth1 active, wwan0 backup), a
/// client connection with its initial subflow on eth0 and one subflow each on
/// eth1 and wwan0.
@Suite struct PathSteeringConnectionTests {
    let lab = ConnectionEngineTests.Lab()
    static let eth1 = AddressAndPort(address: IPAddress("10.0.1.1")!, port: 50001)
    static let wwan0 = AddressAndPort(address: IPAddress("10.0.2.1")!, port: 50002)

    func policy(_ mode: SteeringMode) -> Policy { ConnectionEngineTests().policy(.perInterface, mode) }

    func connection() -> ConnectionView {
        var c = ConnectionEngineTests().connection(lab)
        c.subflows += [
            SubflowView(local: Self.eth1, remote: c.remote, localID: 1, backup: false, interfaceIndex: lab.eth1),
            SubflowView(local: Self.wwan0, remote: c.remote, localID: 2, backup: true, interfaceIndex: lab.wwan0),
        ]
        return c
    }

    func decide(_ mode: SteeringMode = .aggregate, _ health: PathHealthView, connection c: ConnectionView? = nil,
                memory: ConnectionMemory = .init(), now: Int = 0) -> ConnectionDecision {
        ConnectionEngine.decide(ConnectionEngine.Context(policy: policy(mode), network: lab.world.snapshot, health: health),
                                connection: c ?? connection(), memory: memory, now: now)
    }

    static func view(_ verdicts: [(String, PathHealthState)], onPathDown: ProbeSettings.OnPathDown = .withdraw) -> PathHealthView {
        PathSteeringTests.view(verdicts.map { ($0.0, .ipv4, $0.1) }, onPathDown: onPathDown, evidence: "3 probes lost in a row")
    }

    func withdrawals(_ d: ConnectionDecision) -> [(UInt8, [SubflowView], String)] {
        d.actions.compactMap { if case .removeAddress(let id, _, let s, let why) = $0 { (id, s, why) } else { nil } }
    }

    func backups(_ d: ConnectionDecision) -> [(AddressAndPort, Bool, String)] {
        d.actions.compactMap { if case .setBackup(let s, let b, let why) = $0 { (s.local, b, why) } else { nil } }
    }

    @Test(arguments: [SteeringMode.aggregate, .activeBackup])
    func aDownPathsAddressIsWithdrawnWithItsSubflowsAndTheEvidence(mode: SteeringMode) {
        let d = decide(mode, Self.view([("eth1", .down)]))
        let w = withdrawals(d)
        #expect(w.map(\.0) == [1] && w.first?.1.map(\.local) == [Self.eth1], "\(d.actions)")
        #expect(w.first?.2 == "10.0.1.1 (eth1): eth1/ipv4 is down: 3 probes lost in a row; withdrawn "
            + "(on_path_down = \"withdraw\") while eth0/ipv4 is usable", "\(w)")
        #expect(!d.actions.contains { if case .create = $0 { true } else { false } }, "no new subflow on the down path")
    }

    @Test func aDownPathWithDataInFlightKeepsItsSubflowsAsBackupUntilTheyAreIdle() {
        var busy = Self.view([("eth1", .down)])
        busy.paths[PathKey(interface: "eth1", family: .ipv4)]?.inFlight = true
        let deferred = decide(.aggregate, busy)
        #expect(withdrawals(deferred).isEmpty, "no close and no RM_ADDR while data is in flight: \(deferred.actions)")
        #expect(!deferred.actions.contains { if case .destroy = $0 { true } else { false } })
        #expect(backups(deferred).map(\.0) == [Self.eth1] && backups(deferred).first?.1 == true, "\(deferred.actions)")
        #expect(backups(deferred).first?.2.contains("once its connections have no data in flight") == true, "\(backups(deferred))")
        var c = connection()
        c.subflows[1].backup = true
        let idle = decide(.aggregate, Self.view([("eth1", .down)]), connection: c)
        #expect(withdrawals(idle).map(\.0) == [1], "withdrawn once idle: \(idle.actions)")
    }

    /// A new connection gets no subflow on a down path kept as backup (its SYN
    /// would go unanswered) while another path of the family is alive; the
    /// last path of a family is tried as before.
    @Test(arguments: [ProbeSettings.OnPathDown.backup, .withdraw])
    func aDownPathGetsNoNewSubflowWhileAnotherIsAlive(onPathDown: ProbeSettings.OnPathDown) {
        var fresh = ConnectionEngineTests().connection(lab)
        fresh.subflows = fresh.subflows.filter { ConnectionEngine.isInitial($0, fresh) }
        var view = Self.view([("eth1", .down)], onPathDown: onPathDown)
        view.paths[PathKey(interface: "eth1", family: .ipv4)]?.inFlight = true
        let d = decide(.aggregate, view, connection: fresh)
        let creates = d.actions.compactMap { if case .create(let slot, _, _, _, _) = $0 { slot.local } else { nil } }
        #expect(!creates.contains(Self.eth1.address), "\(d.actions)")
        #expect(creates.contains(Self.wwan0.address), "the other paths are joined as before: \(d.actions)")
    }

    @Test func theInitialSubflowOfADownPathIsWithdrawnWithIDZero() {
        let d = decide(.aggregate, Self.view([("eth0", .down)]))
        #expect(withdrawals(d).map(\.0) == [0])
        #expect(withdrawals(d).first?.1.map(\.localID) == [0])
    }

    @Test func onPathDownBackupSetsTheSubflowsBackupAndHealingClearsIt() {
        let down = decide(.aggregate, Self.view([("eth1", .down)], onPathDown: .backup))
        #expect(withdrawals(down).isEmpty)
        #expect(backups(down).map(\.0) == [Self.eth1] && backups(down).first?.1 == true)
        #expect(backups(down).first?.2.contains("eth1/ipv4 is down: 3 probes lost in a row; backup (on_path_down = \"backup\")") == true,
                "\(backups(down))")
        var c = connection()
        c.subflows[1].backup = true
        let healed = decide(.aggregate, Self.view([("eth1", .up)]), connection: c)
        #expect(backups(healed).map(\.0) == [Self.eth1] && backups(healed).first?.1 == false)
    }

    @Test func aDegradedPathsSubflowsBecomeBackupWhileAnotherPathIsUp() {
        let d = decide(.aggregate, Self.view([("eth1", .degraded)]))
        #expect(backups(d).map(\.0) == [Self.eth1] && backups(d).first?.1 == true)
        #expect(backups(d).first?.2.hasSuffix("eth1/ipv4 is degraded: 3 probes lost in a row; backup while eth0/ipv4 is up") == true)
    }

    @Test func activeBackupPromotesAHealthyBackupBeforeADemotedOne() {
        // eth0 down (withdrawn), eth1 degraded (backup now): no active path is left.
        let d = decide(.activeBackup, Self.view([("eth0", .down), ("eth1", .degraded)]))
        #expect(d.memory.promoted == [Self.wwan0], "\(d.events)")
        #expect(backups(d).contains { $0.0 == Self.wwan0 && !$0.1 && $0.2.hasPrefix("promoted") })
        #expect(backups(d).contains { $0.0 == Self.eth1 && $0.1 }, "\(backups(d))")
    }

    @Test func healingRecreatesTheSubflowsAtOnceWhateverTheirBackoff() {
        var t = ConnectionTracker(policy: policy(.aggregate), network: lab.world.snapshot, seed: 1)
        let c = ConnectionEngineTests().connection(lab)
        _ = t.apply(Event(type: .established, token: c.token, localAddress: c.local.address, remoteAddress: c.remote.address,
                          localPort: c.local.port, remotePort: c.remote.port), now: 0)
        _ = t.decide(c.token, now: 0)
        let creates = t.takeCreates()
        let refusal = MPTCPError(code: .kernel, operation: "create subflow", errno: 101, kernelMessage: "unreachable")
        _ = t.settle(creates: creates, creates.map { _ in .refused(refusal) }, now: 0)
        let eth1Slot = creates.first { $0.slot.local == Self.eth1.address }?.slot
        #expect(eth1Slot.flatMap { t.connections[c.token]?.memory.failures[$0] } != nil, "eth1's join failed and backs off")
        t.update(policy: policy(.aggregate), network: lab.world.snapshot, health: Self.view([("eth1", .down)]))
        _ = t.decide(c.token, now: 10)
        #expect(t.takeCreates().isEmpty, "down and backing off: nothing")
        // Without a change of health the backoff holds ...
        var unchanged = t
        unchanged.update(policy: policy(.aggregate), network: lab.world.snapshot, health: Self.view([("eth1", .down)]))
        _ = unchanged.decide(c.token, now: 20)
        #expect(unchanged.takeCreates().isEmpty)
        // ... healing forgets it: eth1's subflow is asked for at once.
        t.update(policy: policy(.aggregate), network: lab.world.snapshot, health: Self.view([("eth1", .up)]))
        _ = t.decide(c.token, now: 20)
        #expect(t.takeCreates().map(\.slot.local) == [Self.eth1.address])
    }
}
