@testable import MPTCPKit
import Testing

/// doctor's routing verdicts (route lookup, reverse-path filter) and its report
/// of the connection to a peer: made-up lookups and subflows, no kernel.
struct DiagnosisRoutingTests {
    let fix = FixCommands(namespace: "lab")
    let noDaemon = ControlPlaneFacts(reachability: .absent(socket: "/run/mptcpctl/mptcpctld.sock"))
    let a2 = IPAddress("10.0.2.1")!
    let peer = AddressAndPort(address: IPAddress("10.0.9.2")!, port: 443)

    func route(oif: Int32, gateway: String?, table: UInt32 = 254, type: UInt8 = 1, destination: String? = nil) -> Route {
        Route(family: 2, table: table, destination: destination.flatMap(IPAddress.init), destinationPrefixLength: destination == nil ? 0 : 24,
              gateway: gateway.flatMap(IPAddress.init), outputInterface: oif, preferredSource: nil, scope: 0,
              routingProtocol: 3, metric: nil, type: type)
    }

    /// eth1 (2) holds 10.0.1.1/24 with the main default route; eth2 (3) holds 10.0.2.1/24,
    /// whose router 10.0.2.254 is known from a default route in table 7.
    var network: NetworkSnapshot {
        var n = NetworkSnapshot(links: [Link(index: 2, name: "eth1", flags: 1, operState: .up),
                                        Link(index: 3, name: "eth2", flags: 1, operState: .up)],
                                addresses: [InterfaceAddress(address: IPAddress("10.0.1.1")!, prefixLength: 24, interfaceIndex: 2),
                                            InterfaceAddress(address: a2, prefixLength: 24, interfaceIndex: 3)],
                                defaultRoutes: [])
        n.routes = [route(oif: 2, gateway: "10.0.1.254"), route(oif: 3, gateway: "10.0.2.254", table: 7),
                    route(oif: 3, gateway: nil, table: 100, destination: "10.0.2.0")]
        return n
    }

    func probes(_ outcome: Result<Route, MPTCPError>, bound: Int32? = nil, to destination: IPAddress) -> [RouteProbe] {
        [RouteProbe(source: a2, destination: destination, outputInterface: bound, outcome: outcome)]
    }

    @Test func aSubflowLeavingByAnotherInterfaceFailsWithTheSourceRoutingFix() throws {
        let used = UsedAddress(address: a2, interfaceIndex: 3)
        let destinations = DiagnosisDestinations(peer: nil)
        let check = try #require(RouteVerdict.check(used, probes: probes(.success(route(oif: 2, gateway: "10.0.1.254")),
                                                                         to: DiagnosisDestinations(peer: nil).standInIPv4),
                                                    destinations: destinations, network: network, plane: noDaemon, fix: fix))
        #expect(check.status == .fail)
        #expect(check.id == "route.10.0.2.1")
        #expect(check.reason == "subflows from 10.0.2.1 leave by eth1, not eth2: strict routers drop them")
        #expect(check.fix?.contains("ip -n lab rule add from 10.0.2.1 lookup 101 && ip -n lab route add default via 10.0.2.254 dev eth2 table 101") == true,
                "the lowest table from 100 holding no route, the gateway known from table 7: \(check.fix ?? "")")
    }

    @Test func theFixNamesTheDaemonsRoutingWhenADaemonAnswers() throws {
        var plane = ControlPlaneFacts(reachability: .answers)
        plane.routingMode = "off"
        let used = UsedAddress(address: a2, interfaceIndex: 3)
        let off = try #require(RouteVerdict.check(used, probes: probes(.success(route(oif: 2, gateway: "10.0.1.254")), to: peer.address),
                                                  destinations: DiagnosisDestinations(peer: peer), network: network, plane: plane, fix: fix))
        #expect(off.fix?.hasPrefix("set [routing] mode = \"on\"") == true)
        plane.routingMode = "on"
        let on = try #require(RouteVerdict.check(used, probes: probes(.success(route(oif: 2, gateway: "10.0.1.254")), to: peer.address),
                                                 destinations: DiagnosisDestinations(peer: peer), network: network, plane: plane, fix: fix))
        #expect(on.fix?.hasPrefix("mptcpctld's [routing] is on but made no route for 10.0.2.1: see mptcpctl -n lab plan") == true,
                "a gateway of eth2 is known (table 7): \(on.fix ?? "")")
        var noGateway = network
        noGateway.routes.removeAll { $0.table == 7 }
        let unknown = try #require(RouteVerdict.check(used, probes: probes(.success(route(oif: 2, gateway: "10.0.1.254")), to: peer.address),
                                                      destinations: DiagnosisDestinations(peer: peer), network: noGateway, plane: plane, fix: fix))
        #expect(unknown.fix?.contains("set gateway = \"…\" in the [[interface]] block of eth2 and run mptcpctl -n lab reload") == true)
        #expect(unknown.fix?.contains("via GATEWAY dev eth2") == true)
    }

    @Test func aBoundSubflowWithNoRouterTowardsAnOffLinkPeerFails() throws {
        let used = UsedAddress(address: a2, interfaceIndex: 3, boundInterface: 3)
        let check = try #require(RouteVerdict.check(used, probes: probes(.success(route(oif: 3, gateway: nil)), bound: 3, to: peer.address),
                                                    destinations: DiagnosisDestinations(peer: peer), network: network, plane: noDaemon, fix: fix))
        #expect(check.status == .fail)
        #expect(check.reason?.contains("no route through eth2 leads to 10.0.9.2") == true)
        let onLink = AddressAndPort(address: IPAddress("10.0.2.7")!, port: 443)
        let neighbour = try #require(RouteVerdict.check(used, probes: probes(.success(route(oif: 3, gateway: nil)), bound: 3, to: onLink.address),
                                                        destinations: DiagnosisDestinations(peer: onLink), network: network, plane: noDaemon, fix: fix))
        #expect(neighbour.status == .ok)
    }

    @Test func aSubflowLeavingByItsOwnInterfaceThroughItsRouterPasses() throws {
        let used = UsedAddress(address: a2, interfaceIndex: 3, boundInterface: 3)
        let check = try #require(RouteVerdict.check(used, probes: probes(.success(route(oif: 3, gateway: "10.0.2.254", table: 7)), bound: 3,
                                                                         to: peer.address),
                                                    destinations: DiagnosisDestinations(peer: peer), network: network, plane: noDaemon, fix: fix))
        #expect(check.status == .ok)
        #expect(check.summary == "10.0.2.1 -> 10.0.9.2 via 10.0.2.254 dev eth2, table 7")
    }

    @Test func noRouteFailsTowardsThePeerAndWarnsTowardsAStandIn() throws {
        let used = UsedAddress(address: a2, interfaceIndex: 3)
        let unreachable = MPTCPError.system("look up a route", errno: 101)
        let towardsPeer = try #require(RouteVerdict.check(used, probes: probes(.failure(unreachable), to: peer.address),
                                                          destinations: DiagnosisDestinations(peer: peer), network: network,
                                                          plane: noDaemon, fix: fix))
        #expect(towardsPeer.status == .fail)
        let standIn = try #require(RouteVerdict.check(used, probes: probes(.failure(unreachable), to: DiagnosisDestinations(peer: nil).standInIPv4),
                                                      destinations: DiagnosisDestinations(peer: nil), network: network,
                                                      plane: noDaemon, fix: fix))
        #expect(standIn.status == .warn)
    }

    @Test func strictReversePathFilteringFailsUnlessTheRouteBackLeavesByTheAddresssInterface() throws {
        let used = UsedAddress(address: a2, interfaceIndex: 3, boundInterface: 3)
        let destinations = DiagnosisDestinations(peer: peer)
        let back = probes(.success(route(oif: 2, gateway: "10.0.1.254")), to: peer.address)
        let strict = try #require(ReversePathVerdict.check(used, probes: back, destinations: destinations, all: 1, perInterface: ["eth2": 0],
                                                           network: network, plane: noDaemon, fix: fix))
        #expect(strict.status == .fail)
        #expect(strict.fix?.hasPrefix("ip netns exec lab sysctl -w net.ipv4.conf.eth2.rp_filter=2") == true)
        #expect(strict.reason?.contains("leaves by eth1, not eth2") == true)
        let loose = try #require(ReversePathVerdict.check(used, probes: back, destinations: destinations, all: 1, perInterface: ["eth2": 2],
                                                          network: network, plane: noDaemon, fix: fix))
        #expect(loose.status == .ok, "max(all, IF) = 2: loose")
        let routed = probes(.success(route(oif: 3, gateway: "10.0.2.254", table: 7)), to: peer.address)
        #expect(ReversePathVerdict.check(used, probes: routed, destinations: destinations, all: 1, perInterface: ["eth2": 1],
                                         network: network, plane: noDaemon, fix: fix)?.status == .ok)
        #expect(ReversePathVerdict.check(UsedAddress(address: IPAddress("2001:db8::1")!, interfaceIndex: 3), probes: [],
                                         destinations: destinations, all: 1, perInterface: [:], network: network,
                                         plane: noDaemon, fix: fix) == nil, "IPv6 has no rp_filter")
    }

    func subflow(_ local: String, _ state: TCPState) -> Subflow {
        Subflow(localAddress: IPAddress(local)!, localPort: 40000, remoteAddress: peer.address, remotePort: peer.port,
                backupLocal: false, backupRemote: false, localID: 0, remoteID: 0, interfaceIndex: 0, state: state, token: 1)
    }

    @Test func aSubflowStuckInSynSentNamesItsStateAndTheRoutingVerdictAsItsCause() {
        let routingFailure = DiagnosisCheck(id: "route.10.0.2.1", status: .fail, summary: "s",
                                            reason: "subflows from 10.0.2.1 leave by eth1, not eth2: strict routers drop them", fix: "FIX")
        let probe = PeerProbeResult(peer: peer, local: AddressAndPort(address: IPAddress("10.0.1.1")!, port: 40000), negotiated: true,
                                    subflows: [subflow("10.0.1.1", .established), subflow("10.0.2.1", .synSent)], waited: 5)
        let used = [UsedAddress(address: a2, interfaceIndex: 3), UsedAddress(address: IPAddress("10.0.3.1")!, interfaceIndex: 4)]
        let checks = PeerVerdict.checks(probe, expected: used, routing: [a2: [routingFailure]], fix: fix)
        let byID = Dictionary(checks.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byID["peer.mptcp"]?.status == .ok)
        #expect(byID["peer.subflow.10.0.1.1"]?.status == .ok)
        let stuck = byID["peer.subflow.10.0.2.1"]
        #expect(stuck?.status == .fail)
        #expect(stuck?.summary.contains("syn-sent after 5 s") == true)
        #expect(stuck?.reason?.hasPrefix("subflows from 10.0.2.1 leave by eth1, not eth2") == true)
        #expect(stuck?.fix == "FIX")
        #expect(byID["peer.subflow.10.0.3.1"]?.status == .warn, "expected, never opened, its route not at fault")
    }

    @Test func aFallbackToTCPFailsAndAFailedConnectSaysWhy() {
        let fellBack = PeerVerdict.checks(PeerProbeResult(peer: peer, negotiated: false), expected: [], routing: [:], fix: fix)
        #expect(fellBack.map(\.id) == ["peer.mptcp"])
        #expect(fellBack.first?.status == .fail)
        let refused = PeerVerdict.checks(PeerProbeResult(peer: peer, failure: .system("connect", errno: 111)), expected: [], routing: [:], fix: fix)
        #expect(refused.first?.id == "peer.connect")
        #expect(refused.first?.reason == "nothing listens on the peer's port (connection refused)")
    }

    @Test func standInDestinationsAreOffTheHostsLinks() {
        var n = network
        n.addresses.append(InterfaceAddress(address: IPAddress("192.0.2.2")!, prefixLength: 24, interfaceIndex: 2))
        let chosen = DiagnosisDestinations(peer: nil).avoiding(n)
        #expect(chosen.standInIPv4 == IPAddress("198.51.100.1"))
        #expect(chosen.standInIPv6 == IPAddress("2001:db8::1"))
    }

    @Test func aPointToPointUplinkNeedsNoRouter() throws {
        var n = network
        n.links[1].flags = 0x1 | 0x10  // up, IFF_POINTOPOINT (ppp0, wg0: `default dev ppp0`)
        let used = UsedAddress(address: a2, interfaceIndex: 3)
        let check = try #require(RouteVerdict.check(used, probes: probes(.success(route(oif: 3, gateway: nil)), to: peer.address),
                                                    destinations: DiagnosisDestinations(peer: peer), network: n, plane: noDaemon, fix: fix))
        #expect(check.status == .ok, "\(check)")
    }

    @Test func aFreeTableForAHandMadeFixIsNoneARuleLooksUp() {
        var n = network
        n.rules = [RoutingRule(family: 2, priority: 50, source: nil, sourcePrefixLength: 0, table: 101, routingProtocol: 0)]
        #expect(SourceRoutingFix.freeTable(n) == 102, "100 holds a route, 101 is named by a rule")
    }

    @Test func aWrongRouteFromAnAddressNothingUsesIsAWarningNotAFailure() {
        let failed = DiagnosisCheck(id: "route.10.0.2.1", status: .fail, summary: "s", reason: "leaves by eth1")
        #expect(failed.asWarningWhileUnused.status == .warn)
        #expect(failed.asWarningWhileUnused.reason == "leaves by eth1; no endpoint uses this address yet, so nothing fails today")
        #expect(DiagnosisCheck.ok("route.10.0.2.1", "fine").asWarningWhileUnused.status == .ok)
    }
}
