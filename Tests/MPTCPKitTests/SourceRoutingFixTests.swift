import Testing
@testable import MPTCPKit

/// The hand-made source-routing fix `doctor` prints keeps main's specific routes first.
@Suite struct SourceRoutingFixTests {
    let fix = FixCommands(namespace: "lab")
    let noDaemon = ControlPlaneFacts(reachability: .absent(socket: "/run/mptcpctl/mptcpctld.sock"))

    func network(rules: [RoutingRule] = []) -> NetworkSnapshot {
        var n = NetworkSnapshot(links: [Link(index: 3, name: "eth2", flags: 1, operState: .up)], addresses: [], defaultRoutes: [])
        n.routes = [Route(family: 2, table: 254, destination: nil, destinationPrefixLength: 0, gateway: IPAddress("10.0.2.254"),
                          outputInterface: 3)]
        n.rules = rules
        return n
    }

    @Test func theHandMadeFixAddsTheSuppressRuleAfterTheSourceRuleUnlessOneIsThere() {
        let text = SourceRoutingFix.text(address: IPAddress("10.0.2.1")!, interface: 3, network: network(), plane: noDaemon, fix: fix)
        #expect(text.contains("ip -n lab route add default via 10.0.2.254 dev eth2 table 100 && "
            + "ip -n lab rule add from all lookup main suppress_prefixlength 0 (added last"), "\(text)")
        let wgQuick = RoutingRule(family: 2, priority: 32764, source: nil, table: 254, routingProtocol: 3, suppressPrefixLength: 0)
        let already = SourceRoutingFix.text(address: IPAddress("10.0.2.1")!, interface: 3, network: network(rules: [wgQuick]),
                                            plane: noDaemon, fix: fix)
        #expect(!already.contains("suppress_prefixlength"), "\(already)")
        let v6 = SourceRoutingFix.text(address: IPAddress("fd00:2::1")!, interface: 3, network: network(rules: [wgQuick]),
                                       plane: noDaemon, fix: fix)
        #expect(v6.contains("rule add from all lookup main suppress_prefixlength 0"), "another family's does not count: \(v6)")
    }
}
