import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// The routing planner on the client set-ups of issue 13: (a) one default
/// route, (b) a default route per uplink, (c) strict rp_filter; IPv6.
@Suite struct RoutingPlannerScenarioTests {
    /// Two uplinks, eth1 10.1.1.2/24 and eth2 10.2.1.2/24; `lo` is off.
    static func twoUplinks() -> (RoutingLab, eth1: Int32, eth2: Int32) {
        var lab = RoutingLab()
        let lo = lab.link("lo"), eth1 = lab.link("eth1"), eth2 = lab.link("eth2")
        lab.address("127.0.0.1", 8, on: lo)
        lab.address("10.1.1.2", 24, on: eth1)
        lab.address("10.2.1.2", 24, on: eth2)
        return (lab, eth1, eth2)
    }

    static func policy(eth2Gateways: [String] = []) -> Policy {
        Policy(interfaces: [
            interfaceBlock(["lo"], .off, position: 1),
            interfaceBlock(["eth1"], position: 2),
            interfaceBlock(["eth2"], position: 3, gateways: eth2Gateways),
        ])
    }

    @Test func variantAOneDefaultRouteTheOtherUplinksGatewayComesFromThePolicy() {
        var (lab, eth1, eth2) = Self.twoUplinks()
        lab.systemRoute(via: "10.1.1.1", on: eth1)
        let plan = lab.converge(Self.policy(eth2Gateways: ["10.2.1.1"]))
        #expect(plan.notes.isEmpty, "\(plan.notes)")
        #expect(plan.ownership.tables == ["eth1": 7300, "eth2": 7301])
        // The suppress rule takes the range's first priority; the source rules come after it.
        #expect(Set(plan.addedRules) == [RoutingRule.mainWithoutDefault(family: 2, priority: 7300),
                                         RoutingRule(from: ip("10.1.1.2"), table: 7300, priority: 7301),
                                         RoutingRule(from: ip("10.2.1.2"), table: 7301, priority: 7302)])
        let eth2Routes = lab.ours(table: 7301)
        #expect(eth2Routes.count == 2)
        #expect(eth2Routes.contains { $0.destination == ip("10.2.1.0") && $0.destinationPrefixLength == 24 && $0.scope == Route.scopeLink
            && $0.preferredSource == ip("10.2.1.2") && $0.outputInterface == eth2 && $0.gateway == nil })
        #expect(eth2Routes.contains { $0.isDefault && $0.gateway == ip("10.2.1.1") && $0.outputInterface == eth2 })
        #expect(lab.ours(table: 7300).contains { $0.isDefault && $0.gateway == ip("10.1.1.1") && $0.outputInterface == eth1 })
        // Routes of a table before its rule, each change with its reason.
        #expect(plan.changes.contains(.addRule(RoutingRule(from: ip("10.2.1.2"), table: 7301, priority: 7302),
                                               reason: "eth2 10.2.1.2: source route so subflows from it leave by eth2 (table 7301, priority 7302)")))
        #expect(plan.changes.contains { $0.reason.contains("default route via 10.2.1.1 in table 7301 (gateway in interface[3] \"eth2\")") })
        #expect(plan.changes.contains { $0.reason.contains("default route via 10.1.1.1 in table 7300 (from the default route on eth1 in table main)") })
        // Converged: planning again changes nothing and keeps the record.
        let again = lab.plan(Self.policy(eth2Gateways: ["10.2.1.1"]))
        #expect(again.changes.isEmpty, "\(again.changes)")
        #expect(again.ownership == lab.owned)
    }

    @Test func variantAWithoutAGatewayNotesTheInterfaceFamilyAndKeyAndRoutesWhatItCan() {
        var (lab, eth1, _) = Self.twoUplinks()
        lab.systemRoute(via: "10.1.1.1", on: eth1)
        let plan = lab.converge(Self.policy())
        #expect(plan.notes.count == 1)
        let note = plan.notes.first
        #expect(note?.interface == "eth2" && note?.family == .ipv4 && note?.key == "interface[3].gateway")
        #expect(note?.message.contains("eth2 (IPv4): no gateway known") == true, "\(plan.notes)")
        #expect(note?.message.contains("set gateway = \"…\" in its [[interface]] block (interface[3].gateway)") == true)
        // The on-link part still works: the connected route and the rule.
        #expect(lab.ours(table: 7301).map(\.destination) == [ip("10.2.1.0")])
        #expect(lab.rules.contains(RoutingRule(from: ip("10.2.1.2"), table: 7301, priority: 7302)))
    }

    @Test func variantBADefaultPerUplinkWithMetricsGivesEachTableItsOwnGateway() {
        var (lab, eth1, eth2) = Self.twoUplinks()
        lab.systemRoute(via: "10.1.1.1", on: eth1, metric: 100)
        lab.systemRoute(via: "10.2.1.1", on: eth2, metric: 200)
        // A policy gateway loses to what the system knows.
        let plan = lab.converge(Self.policy(eth2Gateways: ["10.2.1.99"]))
        #expect(plan.notes.isEmpty)
        #expect(lab.ours(table: 7301).contains { $0.isDefault && $0.gateway == ip("10.2.1.1") })
        #expect(plan.changes.contains { $0.reason.contains("from the default route on eth2 in table main, metric 200") })
        // The system's routes are left as they are.
        #expect(lab.routes.filter { !$0.isOurs }.count == 2)
    }

    @Test func aGatewayIsFoundInAnyTableOrFromAnOnLinkRouter() {
        var (lab, eth1, eth2) = Self.twoUplinks()
        lab.systemRoute(via: "10.1.1.1", on: eth1, table: 300, metric: 50)
        lab.systemRoute("10.9.0.0", 16, via: "10.2.1.254", on: eth2)
        let plan = lab.converge(Self.policy())
        #expect(plan.notes.isEmpty, "\(plan.notes)")
        #expect(lab.ours(table: 7300).contains { $0.isDefault && $0.gateway == ip("10.1.1.1") })
        #expect(lab.ours(table: 7301).contains { $0.isDefault && $0.gateway == ip("10.2.1.254") })
        #expect(plan.changes.contains { $0.reason.contains("the router of 10.9.0.0/16 via 10.2.1.254 dev eth2") })
    }

    @Test func variantCStrictRpFilterIsSetLooseWithTheFoundValueRecordedAndGivenBack() {
        var (lab, eth1, eth2) = Self.twoUplinks()
        lab.systemRoute(via: "10.1.1.1", on: eth1, metric: 100)
        lab.systemRoute(via: "10.2.1.1", on: eth2, metric: 200)
        lab.reversePathFilter["eth1"] = 1
        lab.reversePathFilter["lo"] = 1
        let plan = lab.converge(Self.policy())
        #expect(plan.changes.filter { if case .setReversePathFilter = $0 { true } else { false } }.count == 1)
        #expect(lab.reversePathFilter["eth1"] == 2 && lab.reversePathFilter["eth2"] == 0 && lab.reversePathFilter["lo"] == 1)
        #expect(lab.owned.reversePathFilter == ["eth1": 1])
        #expect(lab.plan(Self.policy()).changes.isEmpty)
        // conf.all strict makes eth2 strict too (the kernel applies the larger value).
        lab.reversePathFilter["all"] = 1
        let all = lab.converge(Self.policy())
        #expect(all.changes == [.setReversePathFilter(interface: "eth2", from: 0, to: 2, reason: all.changes.first?.reason ?? "")])
        #expect(all.changes.first?.reason.contains("net.ipv4.conf.all.rp_filter = 1") == true)
        #expect(lab.owned.reversePathFilter == ["eth1": 1, "eth2": 0])
        // rp_filter = "keep" gives back what was found and sets nothing.
        var keep = Self.policy()
        keep.routing.reversePathFilter = .keep
        lab.converge(keep)
        #expect(lab.reversePathFilter["eth1"] == 1 && lab.reversePathFilter["eth2"] == 0 && lab.owned.reversePathFilter.isEmpty)
    }

    @Test func rpFilterSomeoneChangedSinceIsTheirsAndNotRestored() {
        var (lab, _, _) = Self.twoUplinks()
        lab.reversePathFilter["eth1"] = 1
        lab.converge(Self.policy())
        lab.reversePathFilter["eth1"] = 0  // the admin's choice now
        var keep = Self.policy()
        keep.routing.reversePathFilter = .keep
        let plan = lab.converge(keep)
        #expect(!plan.changes.contains { if case .restoreReversePathFilter = $0 { true } else { false } })
        #expect(lab.reversePathFilter["eth1"] == 0)
    }

    @Test func ipv6WithALinkLocalGatewayGetsItsTableAndAHostRule() {
        var lab = RoutingLab()
        let eth1 = lab.link("eth1")
        lab.address("2001:db8:1::2", 64, on: eth1)
        lab.address("fe80::2", 64, on: eth1)  // link-local: skipped by default, so no rule of its own
        lab.systemRoute(via: "fe80::1", on: eth1, metric: 1024, proto: 9)  // from a router advertisement
        let policy = Policy(interfaces: [interfaceBlock(["eth*"], position: 1)])
        let plan = lab.converge(policy)
        #expect(plan.notes.isEmpty, "\(plan.notes)")
        #expect(plan.addedRules == [RoutingRule.mainWithoutDefault(family: 10, priority: 7300),
                                    RoutingRule(from: ip("2001:db8:1::2"), table: 7300, priority: 7301)])
        #expect(plan.addedRules.last?.sourcePrefixLength == 128)
        #expect(lab.ours(table: 7300).contains { $0.isDefault && $0.gateway == ip("fe80::1") && $0.outputInterface == eth1 && $0.family == 10 })
        #expect(lab.ours(table: 7300).contains { $0.destination == ip("2001:db8:1::") && $0.destinationPrefixLength == 64 })
        // The kernel stored metric 1024 on the IPv6 routes: still the same routes.
        #expect(lab.plan(policy).changes.isEmpty)
    }

    @Test func bothFamiliesShareTheInterfacesTableAndPriority() {
        var (lab, eth1, _) = Self.twoUplinks()
        lab.address("2001:db8:1::2", 64, on: eth1)
        lab.systemRoute(via: "10.1.1.1", on: eth1)
        lab.systemRoute(via: "2001:db8:1::1", on: eth1)
        let plan = lab.converge(Self.policy(eth2Gateways: ["10.2.1.1"]))
        #expect(Set(plan.addedRules.filter { $0.table == 7300 }.map(\.priority)) == [7301])
        #expect(plan.addedRules.filter { $0.table == 7300 }.count == 2)
        #expect(lab.ours(table: 7300).filter(\.isDefault).count == 2)
    }

    @Test func theUserspacePathManagersSubflowSourcesGetSourceRoutingToo() {
        var (lab, eth1, eth2) = Self.twoUplinks()
        lab.systemRoute(via: "10.1.1.1", on: eth1)
        lab.systemRoute(via: "10.2.1.1", on: eth2)
        var policy = Self.policy()
        policy.kernel.pathManager = "userspace"
        let plan = lab.converge(policy)
        #expect(plan.addedRules.filter { $0.source != nil }.count == 2)
    }
    @Test func aPointToPointUplinkWhoseDefaultRouteNamesOnlyTheDeviceGetsAnOnLinkDefault() {
        var lab = RoutingLab()
        let wwan = lab.link("wwan0")
        lab.address("100.64.0.5", 32, on: wwan)
        lab.routes.append(Route(family: 2, table: Route.tableMain, destination: nil, destinationPrefixLength: 0, outputInterface: wwan,
                                scope: Route.scopeLink, routingProtocol: RoutingProtocol.boot))
        let plan = lab.converge(Policy(interfaces: [interfaceBlock(["wwan*"], .backup, position: 1)]))
        #expect(plan.notes.isEmpty, "\(plan.notes)")
        // A /32 has no connected prefix: the default route alone, on the link.
        #expect(plan.addedRoutes == [Route(family: 2, table: 7300, destination: nil, destinationPrefixLength: 0, outputInterface: wwan,
                                           scope: Route.scopeLink)])
        #expect(plan.addedRules == [RoutingRule.mainWithoutDefault(family: 2, priority: 7300),
                                    RoutingRule(from: ip("100.64.0.5"), table: 7300, priority: 7301)])
        #expect(plan.changes.contains { $0.reason.contains("default route on the link in table 7300") })
    }
}
