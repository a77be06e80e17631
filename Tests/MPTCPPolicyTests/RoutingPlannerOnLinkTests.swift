import Foundation
import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// On-link gateways, as cloud images set them up: an address as /32 and
/// `default via GW dev eth0 onlink`. The daemon's table gets the same `onlink`
/// default route (the kernel refuses the gateway otherwise: no connected route holds it).
@Suite struct RoutingPlannerOnLinkTests {
    /// eth1 10.1.1.2/24 via 10.1.1.1; eth2 10.9.0.5/32 (a cloud uplink), and `lo` off.
    static func cloudHost() -> (RoutingLab, eth1: Int32, eth2: Int32) {
        var lab = RoutingLab()
        let lo = lab.link("lo"), eth1 = lab.link("eth1"), eth2 = lab.link("eth2")
        lab.address("127.0.0.1", 8, on: lo)
        lab.address("10.1.1.2", 24, on: eth1)
        lab.address("10.9.0.5", 32, on: eth2)
        lab.systemRoute(via: "10.1.1.1", on: eth1, metric: 100)
        return (lab, eth1, eth2)
    }

    /// `default via 10.9.0.1 dev eth2 onlink` in the main table (metric 200), as the system made it.
    static func systemOnLinkDefault(on eth2: Int32) -> Route {
        Route(family: 2, table: Route.tableMain, destination: nil, destinationPrefixLength: 0, gateway: ip("10.9.0.1"),
              outputInterface: eth2, routingProtocol: RoutingProtocol.boot, metric: 200, onLink: true)
    }

    @Test func theSystemsOnLinkDefaultRouteIsCopiedOnLinkAndA32GetsNoConnectedRoute() {
        var (lab, _, eth2) = Self.cloudHost()
        lab.routes.append(Self.systemOnLinkDefault(on: eth2))
        let plan = lab.converge(RoutingPlannerScenarioTests.policy())
        #expect(plan.notes.isEmpty, "\(plan.notes)")
        let table = lab.ours(table: 7301)
        #expect(table.count == 1, "\(table)")
        #expect(table.first.map { $0.isDefault && $0.gateway == ip("10.9.0.1") && $0.outputInterface == eth2 && $0.onLink } == true)
        #expect(plan.changes.contains { $0.reason == "eth2 (IPv4): default route via 10.9.0.1 onlink in table 7301 "
            + "(from the default route on eth2 in table main, metric 200, onlink)" }, "\(plan.changes)")
        // 7300 is the suppress rule's, 7301 eth1's.
        #expect(lab.rules.contains(RoutingRule(from: ip("10.9.0.5"), table: 7301, priority: 7302)))
        // eth1's ordinary gateway stays an ordinary one.
        #expect(lab.ours(table: 7300).filter(\.isDefault).allSatisfy { !$0.onLink })
        #expect(lab.plan(RoutingPlannerScenarioTests.policy()).changes.isEmpty)
    }

    @Test func aPolicyGatewayNoPrefixOfTheInterfaceHoldsIsOnLinkAndThePlanSaysWhy() {
        var (lab, _, eth2) = Self.cloudHost()
        let plan = lab.converge(RoutingPlannerScenarioTests.policy(eth2Gateways: ["10.9.0.1"]))
        #expect(plan.notes.isEmpty, "\(plan.notes)")
        #expect(lab.ours(table: 7301).contains { $0.isDefault && $0.gateway == ip("10.9.0.1") && $0.outputInterface == eth2 && $0.onLink })
        #expect(plan.changes.contains { $0.reason == "eth2 (IPv4): default route via 10.9.0.1 onlink in table 7301 "
            + "(gateway in interface[3] \"eth2\"; onlink, as no prefix on eth2 holds 10.9.0.1)" }, "\(plan.changes)")
    }

    @Test func aPolicyGatewayInsideAPrefixOrBehindALinkRouteIsNotOnLink() {
        // Inside the address's /24: the connected route holds it.
        var (lab, _, _) = RoutingPlannerScenarioTests.twoUplinks()
        lab.converge(RoutingPlannerScenarioTests.policy(eth2Gateways: ["10.2.1.1"]))
        #expect(lab.ours(table: 7301).contains { $0.isDefault && $0.gateway == ip("10.2.1.1") && !$0.onLink })
        // A /32 whose gateway has a host route on the link (`10.9.0.1 dev eth2 scope link`, as some clouds do it).
        var (cloud, _, cloudEth2) = Self.cloudHost()
        cloud.routes.append(Route(family: 2, table: Route.tableMain, destination: ip("10.9.0.1"), destinationPrefixLength: 32,
                                  outputInterface: cloudEth2, scope: Route.scopeLink, routingProtocol: RoutingProtocol.boot))
        cloud.converge(RoutingPlannerScenarioTests.policy(eth2Gateways: ["10.9.0.1"]))
        #expect(cloud.ours(table: 7301).contains { $0.isDefault && $0.gateway == ip("10.9.0.1") && !$0.onLink })
    }

    @Test func anIPv6LinkLocalPolicyGatewayIsNeverOnLink() {
        var lab = RoutingLab()
        let eth2 = lab.link("eth2")
        lab.address("2001:db8:9::5", 128, on: eth2)
        let policy = Policy(interfaces: [interfaceBlock(["eth2"], position: 1, gateways: ["fe80::1"])])
        lab.converge(policy)
        #expect(lab.ours(table: 7300).contains { $0.isDefault && $0.gateway == ip("fe80::1") && !$0.onLink })
        // A global IPv6 gateway outside every prefix of a /128 is.
        var global = RoutingLab()
        let g2 = global.link("eth2")
        global.address("2001:db8:9::5", 128, on: g2)
        global.converge(Policy(interfaces: [interfaceBlock(["eth2"], position: 1, gateways: ["2001:db8:9::1"])]))
        #expect(global.ours(table: 7300).contains { $0.isDefault && $0.gateway == ip("2001:db8:9::1") && $0.onLink })
    }

    @Test func whenTheSystemsRouteTurnsOnLinkOursIsReplacedNotKept() {
        var (lab, _, eth2) = Self.cloudHost()
        var plain = Self.systemOnLinkDefault(on: eth2)
        plain.onLink = false
        lab.routes.append(plain)
        lab.converge(RoutingPlannerScenarioTests.policy())
        #expect(lab.ours(table: 7301).map(\.onLink) == [false])
        lab.routes.removeAll { $0 == plain }
        lab.routes.append(Self.systemOnLinkDefault(on: eth2))
        let plan = lab.converge(RoutingPlannerScenarioTests.policy())
        #expect(plan.removedRoutes.map(\.onLink) == [false] && plan.addedRoutes.map(\.onLink) == [true], "\(plan.changes)")
        #expect(lab.ours(table: 7301).map(\.onLink) == [true])
    }

    @Test func anOwnedOnLinkRouteIsStoredAsOnLinkAndAnOldRecordDecodesAsNotOnLink() throws {
        let onLink = Self.systemOnLinkDefault(on: 4)
        let json = String(decoding: try JSONEncoder().encode(OwnedRoute(onLink)), as: UTF8.self)
        #expect(json.contains("\"on_link\":true"), "\(json)")
        var plain = onLink
        plain.onLink = false
        #expect(!String(decoding: try JSONEncoder().encode(OwnedRoute(plain)), as: UTF8.self).contains("on_link"))
        #expect(try JSONDecoder().decode(OwnedRoute.self, from: Data(json.utf8)).route?.onLink == true)
        // A record written before on-link gateways existed.
        let old = #"{"family":2,"table":7301,"destination_prefix_length":0,"gateway":"10.9.0.1","output_interface":4,"scope":0,"type":1}"#
        let route = try #require(try JSONDecoder().decode(OwnedRoute.self, from: Data(old.utf8)).route)
        #expect(!route.onLink && route.gateway == ip("10.9.0.1") && route.isOurs)
    }

    @Test func anOnLinkRouteIsSummarisedAsIpRouteShowsIt() {
        let (lab, _, eth2) = Self.cloudHost()
        #expect(Self.systemOnLinkDefault(on: eth2).summary(lab.snapshot) == "default via 10.9.0.1 dev eth2 onlink table 254")
    }
}
