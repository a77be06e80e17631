import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// Path health steering the endpoints (in-kernel PM): eth1 and eth2 active
/// (IPv4 on both, IPv6 on eth1), wwan0 backup (IPv4).
@Suite struct PathSteeringTests {
    var world = World()
    let eth1: Int32, eth2: Int32, wwan0: Int32
    let policy = Policy(interfaces: [rule(["eth*"], .active, position: 1), rule(["wwan*"], .backup, position: 2)])

    init() {
        eth1 = world.link("eth1")
        eth2 = world.link("eth2")
        wwan0 = world.link("wwan0")
        world.add("10.1.1.2", on: eth1)
        world.add("fd01::2", on: eth1)
        world.add("10.2.1.2", on: eth2)
        world.add("10.4.1.2", on: wwan0)
    }

    static func view(_ verdicts: [(String, AddressFamily, PathHealthState)], onPathDown: ProbeSettings.OnPathDown = .withdraw,
                     evidence: String = "3 probes to 10.1.1.1 lost in a row") -> PathHealthView {
        PathHealthView(paths: Dictionary(verdicts.map {
            (PathKey(interface: $0.0, family: $0.1), PathHealthView.Verdict(state: $0.2, onPathDown: onPathDown, evidence: evidence))
        }, uniquingKeysWith: { a, _ in a }))
    }

    /// The endpoints the plan converges to from none, and the plan.
    func converge(_ health: PathHealthView, from endpoints: [Endpoint] = [], owned: Set<OwnedEndpoint> = [])
        -> (endpoints: [Endpoint], owned: Set<OwnedEndpoint>, plan: EndpointPlan) {
        let plan = Planner.plan(policy: policy, network: world.snapshot, endpoints: endpoints, owned: owned, health: health)
        let (e, o) = apply(plan, to: endpoints, owned: owned)
        return (e, o, plan)
    }

    func addresses(_ endpoints: [Endpoint]) -> Set<String> { Set(endpoints.map(\.address.description)) }

    /// The flags of each flag change.
    func flagChanges(_ plan: EndpointPlan) -> [EndpointFlags] {
        plan.changes.map { if case .setFlags(_, let f, _) = $0 { f } else { [] } }
    }

    @Test func aDownPathIsWithdrawnWithItsEvidenceAndRestoredWhenItHeals() {
        let healthy = converge(.none)
        #expect(addresses(healthy.endpoints) == ["10.1.1.2", "fd01::2", "10.2.1.2", "10.4.1.2"])
        let down = converge(Self.view([("eth1", .ipv4, .down)]), from: healthy.endpoints, owned: healthy.owned)
        let deleted = down.plan.changes.compactMap { if case .delete(let e, let why) = $0 { (e.address.description, why) } else { nil } }
        #expect(deleted.map(\.0) == ["10.1.1.2"], "only eth1's IPv4 path is down: its IPv6 path stays")
        #expect(deleted.first?.1.hasPrefix("eth1/ipv4 is down: 3 probes to 10.1.1.1 lost in a row; withdrawn") == true, "\(deleted)")
        #expect(down.plan.skipped.contains { $0.address == IPAddress("10.1.1.2") && $0.reason.contains("eth1/ipv4 is down") })
        #expect(!addresses(down.endpoints).contains("10.1.1.2"))
        let healed = converge(Self.view([("eth1", .ipv4, .up)]), from: down.endpoints, owned: down.owned)
        #expect(healed.plan.changes.map { if case .add(let e, _) = $0 { e.address.description } else { "other" } } == ["10.1.1.2"])
        #expect(converge(.none, from: healed.endpoints, owned: healed.owned).plan.isEmpty, "healed is exactly as before")
    }

    @Test func onPathDownBackupFlagsTheEndpointBackupInPlace() {
        let healthy = converge(.none)
        let down = converge(Self.view([("eth1", .ipv4, .down)], onPathDown: .backup), from: healthy.endpoints, owned: healthy.owned)
        #expect(down.plan.changes.count == 1)
        guard case .setFlags(let e, let flags, let why)? = down.plan.changes.first else {
            Issue.record("not a flag change: \(down.plan.changes)")
            return
        }
        #expect(e.address == IPAddress("10.1.1.2") && flags == [.subflow, .backup])
        #expect(why.contains("eth1/ipv4 is down: 3 probes") && why.contains("on_path_down = \"backup\""), "\(why)")
        let healed = converge(.none, from: down.endpoints, owned: down.owned)
        #expect(flagChanges(healed.plan) == [[.subflow]])
    }

    /// A down path whose connections have data in flight is made backup in
    /// place (no close, no RM_ADDR), and withdrawn once they have none.
    @Test func aDownPathWithDataInFlightIsBackupUntilItsConnectionsAreIdleThenWithdrawn() {
        let healthy = converge(.none)
        var busy = Self.view([("eth1", .ipv4, .down)])
        busy.paths[PathKey(interface: "eth1", family: .ipv4)]?.inFlight = true
        let deferred = converge(busy, from: healthy.endpoints, owned: healthy.owned)
        #expect(deferred.plan.changes.count == 1, "\(deferred.plan.changes)")
        guard case .setFlags(let e, let flags, let why)? = deferred.plan.changes.first else {
            Issue.record("not a flag change: \(deferred.plan.changes)")
            return
        }
        #expect(e.address == IPAddress("10.1.1.2") && flags == [.subflow, .backup])
        #expect(why.contains("eth1/ipv4 is down: 3 probes") && why.contains("once its connections have no data in flight"), "\(why)")
        #expect(converge(busy, from: deferred.endpoints, owned: deferred.owned).plan.isEmpty, "stable while they are busy")
        let idle = converge(Self.view([("eth1", .ipv4, .down)]), from: deferred.endpoints, owned: deferred.owned)
        #expect(idle.plan.changes.compactMap { if case .delete(let e, _) = $0 { e.address.description } else { nil } } == ["10.1.1.2"])
        var backupMode = Self.view([("eth1", .ipv4, .down)], onPathDown: .backup)
        backupMode.paths[PathKey(interface: "eth1", family: .ipv4)]?.inFlight = true
        #expect(flagChanges(converge(backupMode, from: healthy.endpoints, owned: healthy.owned).plan) == [[.subflow, .backup]],
                "on_path_down = \"backup\" is backup either way")
    }

    @Test func theLastUsablePathOfAFamilyIsNeverWithdrawn() {
        // IPv6 has no other path than eth1's.
        var excluded: [IPAddress: String] = [:]
        let v6 = Planner.desiredEndpoints(policy: policy, network: world.snapshot, health: Self.view([("eth1", .ipv6, .down)]),
                                          excluded: &excluded)
        let kept = v6.first { $0.address == IPAddress("fd01::2") }
        #expect(kept?.reason.contains("eth1/ipv6 is down: 3 probes to 10.1.1.1 lost in a row, but no other ipv6 path is usable: kept") == true,
                "\(String(describing: kept?.reason))")
        #expect(kept?.flags == [.subflow] && kept?.health == .down)
        // Every IPv4 path down: none is withdrawn, none demoted.
        let all = Self.view([("eth1", .ipv4, .down), ("eth2", .ipv4, .down), ("wwan0", .ipv4, .down)])
        let d = Planner.desiredEndpoints(policy: policy, network: world.snapshot, health: all, excluded: &excluded)
        #expect(d.count == 4 && d.filter { $0.reason.contains("but no other ipv4 path is usable") }.count == 3)
        // Two of three down: only the one left is kept, the others go.
        let two = Self.view([("eth1", .ipv4, .down), ("eth2", .ipv4, .down)])
        let left = Planner.desiredEndpoints(policy: policy, network: world.snapshot, health: two, excluded: &excluded)
        #expect(Set(left.map(\.address.description)) == ["fd01::2", "10.4.1.2"])
    }

    @Test func aDownPathGoesWhileTheOnlyOtherPathIsDegraded() {
        var excluded: [IPAddress: String] = [:]
        let view = Self.view([("eth1", .ipv4, .down), ("eth2", .ipv4, .degraded), ("wwan0", .ipv4, .down)])
        let d = Planner.desiredEndpoints(policy: policy, network: world.snapshot, health: view, excluded: &excluded)
        #expect(!d.contains { $0.address == IPAddress("10.1.1.2") }, "a degraded path still carries packets")
        let eth2 = d.first { $0.address == IPAddress("10.2.1.2") }
        #expect(eth2?.flags == [.subflow] && eth2?.reason.contains("but no other ipv4 path is up: kept") == true,
                "degraded, and no other path is up: not demoted")
    }

    @Test func aDegradedPathBecomesBackupWhileAnotherIsUpAndReturnsWhenItRecovers() {
        let healthy = converge(.none)
        let degraded = converge(Self.view([("eth2", .ipv4, .degraded)], evidence: "srtt 480 ms over max_rtt 200 ms"),
                                from: healthy.endpoints, owned: healthy.owned)
        guard case .setFlags(let e, let flags, let why)? = degraded.plan.changes.first, degraded.plan.changes.count == 1 else {
            Issue.record("\(degraded.plan.changes)")
            return
        }
        #expect(e.address == IPAddress("10.2.1.2") && flags == [.subflow, .backup])
        #expect(why.hasSuffix("eth2/ipv4 is degraded: srtt 480 ms over max_rtt 200 ms; backup while eth1/ipv4 is up"), "\(why)")
        let recovered = converge(Self.view([("eth2", .ipv4, .up)]), from: degraded.endpoints, owned: degraded.owned)
        #expect(flagChanges(recovered.plan) == [[.subflow]])
    }

    @Test func aDemotedPathRanksAfterTheHealthyOnes() {
        var excluded: [IPAddress: String] = [:]
        let d = Planner.desiredEndpoints(policy: policy, network: world.snapshot, health: Self.view([("eth1", .ipv4, .degraded)]),
                                         excluded: &excluded)
        #expect(d.map(\.address.description) == ["fd01::2", "10.2.1.2", "10.1.1.2", "10.4.1.2"], "\(d.map(\.address))")
        #expect(d.first { $0.address == IPAddress("10.1.1.2") }?.role == .backup)
    }

    @Test func withoutAVerdictNothingChanges() {
        var a: [IPAddress: String] = [:], b: [IPAddress: String] = [:]
        let plain = Planner.desiredEndpoints(policy: policy, network: world.snapshot, excluded: &a)
        let unknown = Planner.desiredEndpoints(policy: policy, network: world.snapshot,
                                               health: Self.view([("eth1", .ipv4, .unknown), ("eth2", .ipv4, .up)]), excluded: &b)
        #expect(plain.map(\.address) == unknown.map(\.address) && plain.map(\.flags) == unknown.map(\.flags) && a == b)
    }
}
