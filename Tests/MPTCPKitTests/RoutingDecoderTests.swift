import Glibc
import Testing
@testable import MPTCPKit

/// Routes and rules as the kernel writes them, decoded by the one rtnetlink decoder;
/// bad bytes give a `DecodeError`, never a trap.
@Suite struct RoutingDecoderTests {
    func message(_ type: UInt16, _ payload: [UInt8]) -> NetlinkMessage {
        NetlinkMessage(type: type, flags: 0x2, sequence: 1, portID: 0, payload: payload)
    }

    /// rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
    func rtmsg(family: UInt8, dstLength: UInt8, table: UInt8, proto: UInt8, scope: UInt8, type: UInt8 = 1) -> [UInt8] {
        [family, dstLength, 0, 0, table, proto, scope, type, 0, 0, 0, 0]
    }

    // 10.0.1.0/24 dev 3 proto 242 scope link src 10.0.1.1 table 1001 metric 5, with
    // RTA_TABLE beyond the header's byte (which says RT_TABLE_COMPAT, 252).
    var connectedRoute: [UInt8] {
        rtmsg(family: 2, dstLength: 24, table: 252, proto: 242, scope: 253)
            + [8, 0, 15, 0] + le32(1001) + [8, 0, 1, 0, 10, 0, 1, 0] + [8, 0, 4, 0] + le32(3)
            + [8, 0, 7, 0, 10, 0, 1, 1] + [8, 0, 6, 0] + le32(5)
    }

    @Test func routeOfATableAbove255DecodesEveryField() throws {
        let routes = try RouteNetlinkDecoder.routes(message(RT.newRoute, connectedRoute))
        #expect(routes == [Route(family: 2, table: 1001, destination: IPAddress("10.0.1.0"), destinationPrefixLength: 24,
                                 gateway: nil, outputInterface: 3, preferredSource: IPAddress("10.0.1.1"), scope: 253,
                                 routingProtocol: 242, metric: 5, type: 1)])
        #expect(routes.first?.isDefault == false)
    }

    @Test func defaultRouteViaAGatewayHasNoDestination() throws {
        let payload = rtmsg(family: 2, dstLength: 0, table: 254, proto: 4, scope: 0)
            + [8, 0, 5, 0, 10, 0, 1, 254] + [8, 0, 4, 0] + le32(3)
        let route = try #require(try RouteNetlinkDecoder.routes(message(RT.newRoute, payload)).first)
        #expect(route.isDefault && route.destination == nil && route.metric == nil)
        #expect(route.gateway == IPAddress("10.0.1.254") && route.table == 254 && route.routingProtocol == 4)
    }

    @Test func multipathRouteIsOneRoutePerNextHopWithItsGateway() throws {
        let g1 = IPAddress("fe80::1")!, g2 = IPAddress("fe80::2")!
        let hop1 = le16(28) + [0, 0] + le32(3) + [20, 0, 5, 0] + g1.bytes
        let hop2 = le16(28) + [0, 0] + le32(4) + [20, 0, 5, 0] + g2.bytes
        let payload = rtmsg(family: 10, dstLength: 0, table: 254, proto: 3, scope: 0)
            + le16(UInt16(4 + 56)) + [9, 0] + hop1 + hop2 + [8, 0, 6, 0] + le32(1024)
        let routes = try RouteNetlinkDecoder.routes(message(RT.newRoute, payload))
        #expect(routes.map(\.gateway) == [g1, g2])
        #expect(routes.map(\.outputInterface) == [3, 4])
        #expect(routes.allSatisfy { $0.metric == 1024 && $0.family == 10 })
    }

    @Test func ipv4RouteViaAnIPv6RouterTakesItsGatewayFromRTAVia() throws {
        let router = IPAddress("fe80::9")!
        let payload = rtmsg(family: 2, dstLength: 0, table: 254, proto: 4, scope: 0)
            + le16(22) + le16(18) + le16(10) + router.bytes + [0, 0] + [8, 0, 4, 0] + le32(2)
        #expect(try RouteNetlinkDecoder.routes(message(RT.newRoute, payload)).first?.gateway == router)
    }

    @Test func routesOfOtherFamiliesAreSkipped() throws {
        // RTNL_FAMILY_IPMR (128): multicast routes share the AF_UNSPEC dump.
        let payload = rtmsg(family: 128, dstLength: 32, table: 254, proto: 0, scope: 0) + [8, 0, 1, 0, 224, 0, 0, 1]
        #expect(try RouteNetlinkDecoder.routes(message(RT.newRoute, payload)).isEmpty)
    }

    @Test func ruleDecodesSourcePriorityTableAbove255AndProtocol() throws {
        // fib_rule_hdr: AF_INET, src_len 32, table 252 (compat), action 1; then FRA_*.
        let payload: [UInt8] = [2, 0, 32, 0, 252, 0, 0, 1, 0, 0, 0, 0]
            + [8, 0, 2, 0, 10, 0, 1, 1] + [8, 0, 6, 0] + le32(1001) + [8, 0, 15, 0] + le32(1001) + [5, 0, 21, 0, 242, 0, 0, 0]
        let rule = try RouteNetlinkDecoder.rule(message(RT.newRule, payload))
        #expect(rule == RoutingRule(family: 2, priority: 1001, source: IPAddress("10.0.1.1"), sourcePrefixLength: 32,
                                    table: 1001, routingProtocol: 242))
    }

    @Test func ruleSuppressPrefixLengthDecodesAndTheKernelsUnsetIsNone() throws {
        // The kernel dumps FRA_SUPPRESS_PREFIXLEN for every rule: -1 when unset.
        let header: [UInt8] = [2, 0, 0, 0, 254, 0, 0, 1, 0, 0, 0, 0] + [8, 0, 6, 0] + le32(7300)
        let unset = try #require(try RouteNetlinkDecoder.rule(message(RT.newRule, header + [8, 0, 14, 0] + le32(0xFFFF_FFFF))))
        #expect(unset.suppressPrefixLength == nil)
        let zero = try #require(try RouteNetlinkDecoder.rule(message(RT.newRule, header + [8, 0, 14, 0] + le32(0)
                                                                      + [5, 0, 21, 0, 0xF2, 0, 0, 0])))
        #expect(zero == RoutingRule.mainWithoutDefault(family: 2, priority: 7300))
        #expect(throws: DecodeError.self) { try RouteNetlinkDecoder.rule(message(RT.newRule, header + [5, 0, 14, 0, 0, 0, 0, 0])) }
    }

    @Test func ruleFromAllHasNoSourceAndTheHeadersTable() throws {
        let payload: [UInt8] = [10, 0, 0, 0, 254, 0, 0, 1, 0, 0, 0, 0] + [8, 0, 6, 0] + le32(32766)
        let rule = try #require(try RouteNetlinkDecoder.rule(message(RT.newRule, payload)))
        #expect(rule.source == nil && rule.sourcePrefixLength == 0 && rule.table == 254 && rule.priority == 32766)
        #expect(rule.routingProtocol == 0)
    }

    @Test func malformedRoutesAndRulesAreDecodeErrors() {
        let shortRoute = message(RT.newRoute, [2, 24, 0, 0])
        #expect(throws: DecodeError.self) { try RouteNetlinkDecoder.routes(shortRoute) }
        let shortRule = message(RT.newRule, [2, 0, 32])
        #expect(throws: DecodeError.self) { try RouteNetlinkDecoder.rule(shortRule) }
        // A 16-byte gateway on an IPv4 route.
        let v6Gateway = rtmsg(family: 2, dstLength: 0, table: 254, proto: 4, scope: 0) + [20, 0, 5, 0] + IPAddress("fe80::1")!.bytes
        #expect(throws: DecodeError.self) { try RouteNetlinkDecoder.routes(message(RT.newRoute, v6Gateway)) }
        // A next hop that claims more bytes than its RTA_MULTIPATH holds.
        let longHop = rtmsg(family: 2, dstLength: 0, table: 254, proto: 4, scope: 0) + [16, 0, 9, 0] + le16(40) + [0, 0] + le32(3) + [0, 0, 0, 0]
        #expect(throws: DecodeError.self) { try RouteNetlinkDecoder.routes(message(RT.newRoute, longHop)) }
        // An FRA_SRC of 3 bytes.
        let badSource: [UInt8] = [2, 0, 32, 0, 254, 0, 0, 1, 0, 0, 0, 0] + [7, 0, 2, 0, 10, 0, 1, 0]
        #expect(throws: DecodeError.self) { try RouteNetlinkDecoder.rule(message(RT.newRule, badSource)) }
        // An RTA_VIA too short for its family.
        let shortVia = rtmsg(family: 2, dstLength: 0, table: 254, proto: 4, scope: 0) + [6, 0, 18, 0, 10, 0, 0, 0]
        #expect(throws: DecodeError.self) { try RouteNetlinkDecoder.routes(message(RT.newRoute, shortVia)) }
    }

    @Test func everyTruncationAndByteFlipOfARouteOrRuleDecodesOrFailsWithoutATrap() {
        let rule: [UInt8] = [2, 0, 32, 0, 252, 0, 0, 1, 0, 0, 0, 0] + [8, 0, 2, 0, 10, 0, 1, 1] + [8, 0, 15, 0] + le32(1001)
        for (type, valid) in [(RT.newRoute, connectedRoute), (RT.newRule, rule)] {
            var inputs = (0..<valid.count).map { Array(valid.prefix($0)) }
            for i in valid.indices { for flip: UInt8 in [0xff, 0x80, 0x01] { var b = valid; b[i] ^= flip; inputs.append(b) } }
            for bytes in inputs {
                let m = message(type, bytes)
                _ = try? RouteNetlinkDecoder.routes(m)
                _ = try? RouteNetlinkDecoder.rule(m)
                _ = WireDecoding.rtnetlink(m.encoded)
            }
        }
    }

    @Test func snapshotKeepsUnicastRoutesOfEveryTableAndEveryRule() throws {
        let local = rtmsg(family: 2, dstLength: 32, table: 255, proto: 2, scope: 254, type: 2) + [8, 0, 1, 0, 10, 0, 1, 1]
        let rule: [UInt8] = [2, 0, 0, 0, 254, 0, 0, 1, 0, 0, 0, 0] + [8, 0, 6, 0] + le32(32766)
        let datagram = message(RT.newRoute, connectedRoute).encoded + message(RT.newRoute, local).encoded + message(RT.newRule, rule).encoded
        let snapshot = try WireDecoding.rtnetlink(datagram).get()
        #expect(snapshot.routes.map(\.table) == [1001])
        #expect(snapshot.rules.map(\.priority) == [32766])
        #expect(snapshot.defaultRoutes.isEmpty)
    }

    @Test func capturedRuleDumpDecodesWithTheSourceRoutingRules() throws {
        let seed = try #require(try FuzzSeedTests.files("FuzzEvents").first { $0.name == "rtnetlink-rules-0" })
        let rules = try WireDecoding.rtnetlink(seed.datagram).get().rules
        #expect(rules.contains(RoutingRule(from: IPAddress("10.9.2.1")!, table: 1002, priority: 1002)), "\(rules)")
        #expect(rules.contains(RoutingRule(from: IPAddress("fd00:9:2::1")!, table: 1002, priority: 1002)), "\(rules)")
        #expect(rules.contains { $0.priority == 32766 && $0.table == Route.tableMain && $0.source == nil })
    }

    @Test func capturedRuleDumpDecodesTheSuppressRulesAndLeavesTheOthersWithoutOne() throws {
        let seed = try #require(try FuzzSeedTests.files("FuzzEvents").first { $0.name == "rtnetlink-rules-1" })
        let rules = try WireDecoding.rtnetlink(seed.datagram).get().rules
        #expect(rules.contains(RoutingRule.mainWithoutDefault(family: 2, priority: 1001)), "\(rules)")
        #expect(rules.contains(RoutingRule.mainWithoutDefault(family: 10, priority: 1001)), "\(rules)")
        #expect(rules.contains(RoutingRule(from: IPAddress("10.9.2.1")!, table: 1002, priority: 1002)), "\(rules)")
        #expect(rules.filter { $0.suppressPrefixLength != nil }.count == 2, "the kernel's -1 is none: \(rules)")
    }

    @Test func existingSnapshotInitialisersLeaveRoutesAndRulesEmpty() {
        let snapshot = NetworkSnapshot(links: [], addresses: [], defaultRoutes: [])
        #expect(snapshot.routes.isEmpty && snapshot.rules.isEmpty)
    }
}
