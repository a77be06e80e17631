import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// `ProbePlan.paths`: which paths the health thread judges, from where, through which router.
@Suite struct ProbePlanTests {
    static func lab() -> (RoutingLab, eth1: Int32, eth2: Int32) {
        var lab = RoutingLab()
        let lo = lab.link("lo"), eth1 = lab.link("eth1"), eth2 = lab.link("eth2")
        lab.address("127.0.0.1", 8, on: lo)
        lab.address("10.1.1.2", 24, on: eth1)
        lab.address("2001:db8:1::2", 64, on: eth1)
        lab.address("10.2.1.2", 24, on: eth2)
        lab.systemRoute(via: "10.1.1.1", on: eth1)
        lab.systemRoute(via: "10.2.1.1", on: eth2, metric: 200)
        return (lab, eth1, eth2)
    }

    static func policy(eth2Probe: ProbeSettings? = nil) -> Policy {
        var eth2 = interfaceBlock(["eth2"], position: 3)
        eth2.probe = eth2Probe
        return Policy(interfaces: [interfaceBlock(["lo"], .off, position: 1), interfaceBlock(["eth1"], position: 2), eth2])
    }

    @Test func aPathPerInterfaceAndFamilyWithItsSourceAndTheGatewayOfItsDefaultRoute() {
        let (lab, eth1, eth2) = Self.lab()
        let paths = ProbePlan.paths(policy: Self.policy(), network: lab.snapshot)
        #expect(paths.map(\.key.description) == ["eth1/ipv4", "eth1/ipv6", "eth2/ipv4"])
        #expect(paths[0].source == ip("10.1.1.2") && paths[0].interfaceIndex == eth1 && paths[0].gateway == ip("10.1.1.1"))
        #expect(paths[1].source == ip("2001:db8:1::2") && paths[1].gateway == nil, "no IPv6 router known")
        #expect(paths[2].source == ip("10.2.1.2") && paths[2].interfaceIndex == eth2 && paths[2].gateway == ip("10.2.1.1"))
        #expect(paths[0].destinations == [ProbeDestination(address: ip("10.1.1.1"))], "default targets: gateway, then peers")
        #expect(paths[1].destinations.isEmpty, "no gateway, no peer: nothing to probe; passive evidence alone")
    }

    @Test func peersAreProbedOnThePathsOfTheirFamilyOnlyAndAtMostFourOfThem() {
        let (lab, _, _) = Self.lab()
        let peers = ["192.0.2.1", "2001:db8:9::1", "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"].map { ip($0) }
        let paths = ProbePlan.paths(policy: Self.policy(), network: lab.snapshot, peers: peers)
        #expect(paths[0].peers == ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"].map { ip($0) })
        #expect(paths[1].peers == [ip("2001:db8:9::1")])
        #expect(paths[0].destinations.first == ProbeDestination(address: ip("10.1.1.1")))
        #expect(paths[0].destinations.count == 5)
    }

    @Test func anInterfaceWithProbingOffOrRoleOffOrDownIsNotJudged() {
        var (lab, _, _) = Self.lab()
        var off = ProbeSettings()
        off.mode = .off
        #expect(ProbePlan.paths(policy: Self.policy(eth2Probe: off), network: lab.snapshot).map(\.key.interface) == ["eth1", "eth1"])
        lab.links[2].flags = 0
        #expect(!ProbePlan.paths(policy: Self.policy(), network: lab.snapshot).contains { $0.key.interface == "eth2" })
    }

    @Test func aTCPTargetOfTheOtherFamilyIsLeftOutAndDuplicatesAreProbedOnce() {
        let (lab, _, _) = Self.lab()
        var settings = ProbeSettings()
        settings.targets = [.connect(ip("10.9.0.1"), port: 443), .connect(ip("10.9.0.1"), port: 443), .echo(ip("2001:db8::9")), .gateway]
        let paths = ProbePlan.paths(policy: Self.policy(eth2Probe: settings), network: lab.snapshot)
        #expect(paths[2].destinations == [ProbeDestination(address: ip("10.9.0.1"), port: 443), ProbeDestination(address: ip("10.2.1.1"))])
    }
}
