import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// Failback once a path heals when its subflows were kept through the outage
/// (`on_path_down = "backup"`, or the last path of a family): the heal is an
/// event (`PathHealthView.Verdict.heals`), acted on once by each consumer; the
/// in-kernel PM's endpoint is replaced, the userspace PM's subflows destroyed
/// and made again, so none waits on a retransmission timer backed off during
/// the outage.
@Suite struct BackupFailbackTests {
    static let eth1v4 = PathKey(interface: "eth1", family: .ipv4)

    /// eth1/ipv4 in `state`, healed `heals` times, the other paths up.
    static func view(_ state: PathHealthState, heals: Int, onPathDown: ProbeSettings.OnPathDown = .backup,
                     path: String = "eth1") -> PathHealthView {
        PathHealthView(paths: [
            PathKey(interface: path, family: .ipv4):
                PathHealthView.Verdict(state: state, onPathDown: onPathDown, evidence: "3 probes lost in a row", heals: heals),
            PathKey(interface: "eth9", family: .ipv4): PathHealthView.Verdict(state: .up, onPathDown: onPathDown, evidence: "", heals: 0),
        ])
    }


    // MARK: The heal as an event

    @Test func aPathCountsAsHealedUntilTheConsumerActedOnItsCountAndNotWhileDownAgain() {
        let healed = Self.view(.up, heals: 1)
        #expect(healed.healed(since: [:]) == [Self.eth1v4], "never acted on: counts 0")
        #expect(healed.healed(since: [Self.eth1v4: 1]).isEmpty, "acted on once: not again")
        #expect(Self.view(.up, heals: 3).healed(since: [Self.eth1v4: 1]) == [Self.eth1v4], "two heals missed: one rebuild")
        #expect(Self.view(.down, heals: 2).healed(since: [Self.eth1v4: 1]).isEmpty, "down again: nothing to rebuild yet")
        #expect(Self.view(.degraded, heals: 1).healed(since: [:]) == [Self.eth1v4], "left down for degraded: healed too")
        #expect(healed.heals == [Self.eth1v4: 1, PathKey(interface: "eth9", family: .ipv4): 0])
    }

    // MARK: In-kernel PM: the endpoint is replaced

    @Test func theReplacedEndpointWaitsForTheLongestRoundTripOfTheFamilysOtherLivePaths() {
        func view(_ others: [(String, PathHealthState, Duration?)], family: AddressFamily = .ipv4) -> PathHealthView {
            var paths = [Self.eth1v4: PathHealthView.Verdict(state: .up, heals: 1, roundTrip: .milliseconds(5))]
            for (name, state, rtt) in others {
                paths[PathKey(interface: name, family: family)] = PathHealthView.Verdict(state: state, roundTrip: rtt)
            }
            return PathHealthView(paths: paths)
        }
        let replaced: Set = [Self.eth1v4]
        #expect(view([("eth2", .up, .milliseconds(80))]).readdDelay(replacing: replaced) == .milliseconds(110),
                "its round trip plus 30 ms; the healed path's own does not count")
        #expect(view([("eth2", .up, .milliseconds(80)), ("eth3", .degraded, .milliseconds(150))]).readdDelay(replacing: replaced)
                    == .milliseconds(180), "the longest of them")
        #expect(view([("eth2", .up, .milliseconds(80)), ("eth3", .down, nil)]).readdDelay(replacing: replaced)
                    == .milliseconds(110), "a down path carries no RM_ADDR")
        #expect(view([("eth2", .up, .milliseconds(5))]).readdDelay(replacing: replaced) == .milliseconds(50), "the floor")
        #expect(view([("eth2", .up, .milliseconds(900))]).readdDelay(replacing: replaced) == .milliseconds(300), "the ceiling")
        #expect(view([("eth2", .up, nil)]).readdDelay(replacing: replaced) == .milliseconds(300), "unknown: the ceiling")
        #expect(view([("eth2", .up, .milliseconds(5))], family: .ipv6).readdDelay(replacing: replaced) == .milliseconds(300),
                "another family's path carries no RM_ADDR of this one's")
    }

    @Test func aHealedPathsBackupEndpointIsDeletedOnceAndAddedAgainByTheNextPlanWithTheFlagsWantedNow() {
        let steering = PathSteeringTests()
        let healthy = steering.converge(.none)
        let down = steering.converge(Self.view(.down, heals: 0), from: healthy.endpoints, owned: healthy.owned)
        let old = down.endpoints.first { $0.address == IPAddress("10.1.1.2") }
        #expect(old?.flags == [.subflow, .backup], "kept as backup through the outage")
        let up = Self.view(.up, heals: 1)
        let plan = Planner.plan(policy: steering.policy, network: steering.world.snapshot, endpoints: down.endpoints,
                                owned: down.owned, health: up, rebuild: up.healed(since: [Self.eth1v4: 0]))
        guard plan.changes.count == 1, case .delete(let deleted, let why)? = plan.changes.first else {
            Issue.record("not a replacement: \(plan.changes)")
            return
        }
        #expect(deleted == old)
        #expect(why.hasPrefix("replaced: eth1/ipv4 healed: its subflows, kept through the outage, wait on a backed-off"), "\(why)")
        #expect(plan.replacedOnHeal == [IPAddress("10.1.1.2")!: Self.eth1v4])
        let (endpoints, owned) = apply(plan, to: down.endpoints, owned: down.owned)
        // Acted on: the next plan, without the rebuild, adds it again with its id, not backup (the path is up).
        let again = Planner.plan(policy: steering.policy, network: steering.world.snapshot, endpoints: endpoints, owned: owned,
                                 health: up)
        guard again.changes.count == 1, case .add(let added, _)? = again.changes.first else {
            Issue.record("not an add: \(again.changes)")
            return
        }
        #expect(added.id == old?.id && added.address == old?.address && added.flags == [.subflow], "\(added)")
        #expect(again.replacedOnHeal.isEmpty)
    }

    @Test func theLastPathOfAFamilyKeptThroughItsOutageIsNotReplaced() {
        let steering = PathSteeringTests()
        let healthy = steering.converge(.none)
        let v6 = PathKey(interface: "eth1", family: .ipv6)
        let up = PathHealthView(paths: [v6: PathHealthView.Verdict(state: .up, onPathDown: .withdraw, heals: 1)])
        let plan = Planner.plan(policy: steering.policy, network: steering.world.snapshot, endpoints: healthy.endpoints,
                                owned: healthy.owned, health: up, rebuild: [v6])
        // Its subflows are all the family has: deleting the endpoint would close them.
        #expect(plan.changes.isEmpty && plan.replacedOnHeal.isEmpty, "\(plan.changes)")
    }

    @Test func aWithdrawnPathIsOnlyAddedBackOnHealingNothingIsReplaced() {
        let steering = PathSteeringTests()
        let healthy = steering.converge(.none)
        let down = steering.converge(Self.view(.down, heals: 0, onPathDown: .withdraw), from: healthy.endpoints, owned: healthy.owned)
        let up = Self.view(.up, heals: 1, onPathDown: .withdraw)
        let plan = Planner.plan(policy: steering.policy, network: steering.world.snapshot, endpoints: down.endpoints,
                                owned: down.owned, health: up, rebuild: [Self.eth1v4])
        #expect(plan.changes.map { if case .add(let e, _) = $0 { e.address.description } else { "other" } } == ["10.1.1.2"])
        #expect(plan.replacedOnHeal.isEmpty)
    }

    // MARK: Userspace PM: the subflows are destroyed and made again

    let lab = ConnectionEngineTests.Lab()

    func decide(_ memory: ConnectionMemory, connection c: ConnectionView, health: PathHealthView,
                strategy: Strategy = .perInterface) -> ConnectionDecision {
        let policy = ConnectionEngineTests().policy(strategy)
        return ConnectionEngine.decide(ConnectionEngine.Context(policy: policy, network: lab.world.snapshot, health: health),
                                       connection: c, memory: memory, now: 100)
    }

    func destroyed(_ d: ConnectionDecision) -> [AddressAndPort] {
        d.actions.compactMap { if case .destroy(let s, _) = $0 { s.local } else { nil } }
    }

    func created(_ d: ConnectionDecision) -> [(IPAddress, UInt8, Bool)] {
        d.actions.compactMap { if case .create(let slot, let id, _, let backup, _) = $0 { (slot.local, id, backup) } else { nil } }
    }

    @Test func aSubflowKeptThroughTheOutageIsDestroyedAndMadeAgainNotBackup() {
        var c = PathSteeringConnectionTests().connection()
        c.subflows[1].backup = true   // eth1's, set backup while down
        c.localIDs[PathSteeringConnectionTests.eth1.address] = 1
        var memory = ConnectionMemory()
        memory.rebuild = [PathSteeringConnectionTests.eth1]
        let d = decide(memory, connection: c, health: Self.view(.up, heals: 1))
        #expect(destroyed(d) == [PathSteeringConnectionTests.eth1], "\(d.actions)")
        #expect(created(d).map(\.0) == [PathSteeringConnectionTests.eth1.address] && created(d).first?.2 == false, "\(d.actions)")
        #expect(created(d).first?.1 == 1, "the id the connection binds its address to")
        #expect(!d.actions.contains { if case .setBackup(let s, _, _) = $0 { s.local == PathSteeringConnectionTests.eth1 } else { false } },
                "the old one is not flagged: it goes")
        if case .destroy(_, let why)? = d.actions.first {
            #expect(why.hasPrefix("rebuilt: the path of 10.0.1.1 (eth1) healed"), "\(why)")
        }
        #expect(d.memory.rebuild.isEmpty, "rebuilt once")
        #expect(destroyed(decide(d.memory, connection: c, health: Self.view(.up, heals: 1))).isEmpty)
    }

    @Test(arguments: [Strategy.perInterface, .fullmesh])
    func aHealedInitialSubflowIsMadeAgainWithIDZero(strategy: Strategy) {
        let c = PathSteeringConnectionTests().connection()
        var memory = ConnectionMemory()
        memory.rebuild = [c.local]
        let d = decide(memory, connection: c, health: Self.view(.up, heals: 1, path: "eth0"), strategy: strategy)
        #expect(destroyed(d) == [c.local], "\(d.actions)")
        #expect(created(d).contains { $0.0 == c.local.address && $0.1 == 0 }, "\(d.actions)")
    }

    @Test func aServerLeavesTheClientsSubflowsToTheClient() {
        var c = PathSteeringConnectionTests().connection()
        c.side = .server
        var memory = ConnectionMemory()
        memory.rebuild = [PathSteeringConnectionTests.eth1]
        let d = decide(memory, connection: c, health: Self.view(.up, heals: 1))
        #expect(destroyed(d).isEmpty && d.memory.rebuild.isEmpty)
    }

    @Test func theTrackerRebuildsAHealedPathsSubflowsOncePerHeal() {
        let policy = ConnectionEngineTests().policy(.perInterface)
        var t = ConnectionTracker(policy: policy, network: lab.world.snapshot, seed: 1)
        let c = ConnectionEngineTests().connection(lab)
        _ = t.apply(Event(type: .established, token: c.token, localAddress: c.local.address, remoteAddress: c.remote.address,
                          localPort: c.local.port, remotePort: c.remote.port), now: 0)
        _ = t.decide(c.token, now: 0)
        let joins = t.takeCreates()
        _ = t.settle(creates: joins, joins.map { _ in .sent }, now: 0)
        let eth1 = PathSteeringConnectionTests.eth1
        _ = t.apply(Event(type: .subflowEstablished, token: c.token, localID: 1, localAddress: eth1.address,
                          remoteAddress: c.remote.address, localPort: eth1.port, remotePort: c.remote.port,
                          interfaceIndex: lab.eth1), now: 10)
        t.update(policy: policy, network: lab.world.snapshot, health: Self.view(.down, heals: 0))
        _ = t.decide(c.token, now: 20)
        t.update(policy: policy, network: lab.world.snapshot, health: Self.view(.up, heals: 1))
        #expect(t.connections[c.token]?.memory.rebuild == [eth1])
        let healed = t.decide(c.token, now: 30)
        #expect(healed?.commands.contains { if case .destroy(let s, _) = $0.action { s.local == eth1 } else { false } } == true,
                "\(String(describing: healed?.commands))")
        #expect(t.takeCreates().map(\.slot.local) == [eth1.address])
        // The same count again: acted on already.
        t.update(policy: policy, network: lab.world.snapshot, health: Self.view(.up, heals: 1))
        #expect(t.connections[c.token]?.memory.rebuild.isEmpty == true)
    }
}
