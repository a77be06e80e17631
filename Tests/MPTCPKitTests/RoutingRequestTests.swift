import Glibc
import Testing
@testable import MPTCPKit

/// The routing requests, byte by byte as iproute2 sends them, and what is refused before sending.
@Suite struct RoutingRequestTests {
    @Test func ruleRequestCarriesSourcePriorityTableAndProtocol() {
        let rule = RoutingRule(from: IPAddress("10.0.1.1")!, table: 1001, priority: 1001)
        #expect(rule.sourcePrefixLength == 32 && rule.routingProtocol == RoutingProtocol.mptcpctl)
        let bytes = RoutingRequest.rule(rule)
        // Header: AF_INET, src_len 32, table 0 (too large for the byte), FR_ACT_TO_TBL.
        #expect(bytes == [2, 0, 32, 0, 0, 0, 0, 1, 0, 0, 0, 0]
                + [8, 0, 2, 0, 10, 0, 1, 1] + [8, 0, 6, 0] + le32(1001) + [8, 0, 15, 0] + le32(1001)
                + [5, 0, 21, 0, 0xF2, 0, 0, 0])
    }

    @Test func ruleOfASmallTableAlsoNamesItInTheHeader() {
        let rule = RoutingRule(from: IPAddress("2001:db8::1")!, table: 100, priority: 500)
        let bytes = RoutingRequest.rule(rule)
        #expect(Array(bytes.prefix(12)) == [10, 0, 128, 0, 100, 0, 0, 1, 0, 0, 0, 0])
    }

    @Test func suppressRuleLooksUpMainAndCarriesSuppressPrefixLength() throws {
        let rule = RoutingRule.mainWithoutDefault(family: 2, priority: 7300)
        #expect(rule.table == 254 && rule.source == nil && rule.suppressPrefixLength == 0)
        // Header: AF_INET, from all, table main (fits the byte), FR_ACT_TO_TBL; FRA_SUPPRESS_PREFIXLEN 0.
        #expect(RoutingRequest.rule(rule) == [2, 0, 0, 0, 254, 0, 0, 1, 0, 0, 0, 0]
                + [8, 0, 6, 0] + le32(7300) + [8, 0, 15, 0] + le32(254) + [8, 0, 14, 0] + le32(0)
                + [5, 0, 21, 0, 0xF2, 0, 0, 0])
        let m = NetlinkMessage(type: RT.newRule, flags: 0, sequence: 0, portID: 0,
                               payload: RoutingRequest.rule(RoutingRule.mainWithoutDefault(family: 10, priority: 7300)))
        #expect(try RouteNetlinkDecoder.rule(m) == RoutingRule.mainWithoutDefault(family: 10, priority: 7300))
    }

    @Test func suppressPrefixLengthLongerThanTheFamilysIsRefused() {
        var rule = RoutingRule.mainWithoutDefault(family: 2, priority: 7300)
        #expect(RoutingRequest.problem(with: rule) == nil)
        rule.suppressPrefixLength = 33
        #expect(RoutingRequest.problem(with: rule) != nil)
        rule.family = 10
        #expect(RoutingRequest.problem(with: rule) == nil)
        rule.suppressPrefixLength = 129
        #expect(RoutingRequest.problem(with: rule) != nil)
    }

    @Test func routeRequestEncodesWhatTheRouteHas() {
        let route = Route(family: 2, table: 1001, destination: nil, destinationPrefixLength: 0,
                          gateway: IPAddress("10.0.1.254"), outputInterface: 3, preferredSource: IPAddress("10.0.1.1"), metric: 7)
        #expect(RoutingRequest.route(route) == [2, 0, 0, 0, 0, 0xF2, 0, 1, 0, 0, 0, 0]
                + [8, 0, 5, 0, 10, 0, 1, 254] + [8, 0, 4, 0] + le32(3) + [8, 0, 7, 0, 10, 0, 1, 1]
                + [8, 0, 15, 0] + le32(1001) + [8, 0, 6, 0] + le32(7))
    }

    @Test func anEncodedRouteDecodesToItself() throws {
        let route = Route(family: 10, table: 70000, destination: IPAddress("fd00:1::"), destinationPrefixLength: 64,
                          outputInterface: 9, preferredSource: IPAddress("fd00:1::1"), scope: Route.scopeLink, metric: 1024)
        let m = NetlinkMessage(type: RT.newRoute, flags: 0, sequence: 0, portID: 0, payload: RoutingRequest.route(route))
        #expect(try RouteNetlinkDecoder.routes(m) == [route])
        let rule = RoutingRule(from: IPAddress("fd00:1::1")!, table: 70000, priority: 900)
        let r = NetlinkMessage(type: RT.newRule, flags: 0, sequence: 0, portID: 0, payload: RoutingRequest.rule(rule))
        #expect(try RouteNetlinkDecoder.rule(r) == rule)
    }

    @Test func lookupAsksForTheTableWithDestinationSourceAndInterface() {
        let query = RouteQuery(destination: IPAddress("10.0.9.2")!, source: IPAddress("10.0.1.1"), outputInterface: 3)
        #expect(RoutingRequest.lookup(query) == [2, 32, 32, 0, 0, 0, 0, 0] + le32(0x1000)
                + [8, 0, 1, 0, 10, 0, 9, 2] + [8, 0, 2, 0, 10, 0, 1, 1] + [8, 0, 4, 0] + le32(3))
        let bare = RoutingRequest.lookup(RouteQuery(destination: IPAddress("2001:db8::2")!))
        #expect(Array(bare.prefix(4)) == [10, 128, 0, 0] && bare.count == 12 + 20)
    }

    @Test func linkLocalIPv6GatewayWithoutInterfaceIsRefused() {
        let route = Route(family: 10, table: 1001, destination: nil, destinationPrefixLength: 0,
                          gateway: IPAddress("fe80::1"), outputInterface: 0)
        #expect(RoutingRequest.problem(with: route) != nil)
        var bound = route
        bound.outputInterface = 4
        #expect(RoutingRequest.problem(with: bound) == nil)
    }

    @Test func mixedFamiliesAndTableZeroAreRefused() {
        let wrongGateway = Route(family: 2, table: 1001, destination: nil, destinationPrefixLength: 0,
                                 gateway: IPAddress("2001:db8::1"), outputInterface: 3)
        #expect(RoutingRequest.problem(with: wrongGateway) != nil)
        #expect(RoutingRequest.problem(with: RoutingRule(family: 10, priority: 5, source: IPAddress("10.0.0.1"), table: 9)) != nil)
        #expect(RoutingRequest.problem(with: RoutingRule(from: IPAddress("10.0.0.1")!, table: 0, priority: 5)) != nil)
        #expect(RoutingRequest.problem(with: RouteQuery(destination: IPAddress("10.0.0.1")!, source: IPAddress("::1"))) != nil)
    }

    @Test func kernelRefusalsOfRoutingAreClassified() {
        let exists = MPTCPError(code: .kernel, operation: "add rule", errno: EEXIST)
        #expect(exists.isExists && !exists.isNotFound)
        let unreachable = MPTCPError(code: .kernel, operation: "look up", errno: ENETUNREACH)
        #expect(unreachable.isUnreachable && MPTCPError(code: .kernel, operation: "look up", errno: EHOSTUNREACH).isUnreachable)
        #expect(!MPTCPError(code: .system, operation: "open", errno: EEXIST).isExists)
    }

    @Test func onlyPlainInterfaceNamesReachTheSysctlTree() {
        for good in ["eth0", "wlan0", "veth-a.1", "all", "x"] { #expect(MPTCPSysctl.isPlainInterfaceName(good), "\(good)") }
        for bad in ["", ".", "..", "../all", "eth0/x", "a b", "sixteen-letters!", "eth\n"] {
            #expect(!MPTCPSysctl.isPlainInterfaceName(bad), "\(bad)")
        }
    }

    @Test func rpFilterValueAndNameAreCheckedBeforeAnythingIsWritten() {
        let sysctl = MPTCPSysctl()
        #expect { try sysctl.setReversePathFilter(3, interface: "lo") } throws: { ($0 as? MPTCPError)?.code == .invalidArgument }
        #expect { try sysctl.reversePathFilter(interface: "../all") } throws: { ($0 as? MPTCPError)?.code == .invalidArgument }
    }
}
