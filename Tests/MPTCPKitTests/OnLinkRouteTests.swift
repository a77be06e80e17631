import Glibc
import Testing
@testable import MPTCPKit

/// On-link gateways (`ip route … onlink`, RTNH_F_ONLINK): a cloud host's /32
/// address has no connected route holding its gateway, so the route says the
/// gateway is on the link; sent in rtm_flags, read from rtm_flags and rtnh_flags.
@Suite struct OnLinkRouteTests {
    func message(_ payload: [UInt8]) -> NetlinkMessage {
        NetlinkMessage(type: RT.newRoute, flags: 0x2, sequence: 1, portID: 0, payload: payload)
    }

    static let onLinkDefault = Route(family: 2, table: 7300, destination: nil, destinationPrefixLength: 0,
                                     gateway: IPAddress("10.9.0.1"), outputInterface: 3, onLink: true)

    @Test func onLinkRouteRequestCarriesRTNHFOnLinkInRtmFlags() {
        // As `ip route add default via 10.9.0.1 dev if3 onlink table 7300 proto 242` sends it.
        #expect(RoutingRequest.route(Self.onLinkDefault) == [2, 0, 0, 0, 0, 0xF2, 0, 1] + le32(4)
                + [8, 0, 5, 0, 10, 9, 0, 1] + [8, 0, 4, 0] + le32(3) + [8, 0, 15, 0] + le32(7300))
        var plain = Self.onLinkDefault
        plain.onLink = false
        #expect(Array(RoutingRequest.route(plain)[8..<12]) == [0, 0, 0, 0])
    }

    @Test func anEncodedOnLinkRouteDecodesToItself() throws {
        #expect(try RouteNetlinkDecoder.routes(message(RoutingRequest.route(Self.onLinkDefault))) == [Self.onLinkDefault])
    }

    @Test func onLinkIsReadFromRtmFlagsAndOtherFlagsAreNotTakenForIt() throws {
        let base: [UInt8] = [2, 0, 0, 0, 254, 3, 0, 1]
        let attributes: [UInt8] = [8, 0, 5, 0, 10, 9, 0, 1] + [8, 0, 4, 0] + le32(3)
        // RTNH_F_ONLINK with RTNH_F_LINKDOWN (16), as a dump of a route on a link without carrier says it.
        let onLink = try RouteNetlinkDecoder.routes(message(base + le32(4 | 16) + attributes))
        #expect(onLink.map(\.onLink) == [true])
        // A lookup's reply: RTM_F_CLONED | RTM_F_LOOKUP_TABLE, and RTNH_F_DEAD (1), RTNH_F_PERVASIVE (2): not on-link.
        let other = try RouteNetlinkDecoder.routes(message(base + le32(0x1200 | 1 | 2) + attributes))
        #expect(other.map(\.onLink) == [false])
    }

    @Test func multipathNextHopsEachSayWhetherTheyAreOnLink() throws {
        // RTA_MULTIPATH: hop 1 via 10.9.4.1 dev 3 onlink, hop 2 via 10.9.2.2 dev 5.
        let hop1 = le16(16) + [4, 0] + le32(3) + [8, 0, 5, 0, 10, 9, 4, 1]
        let hop2 = le16(16) + [0, 0] + le32(5) + [8, 0, 5, 0, 10, 9, 2, 2]
        let payload: [UInt8] = [2, 16, 0, 0, 252, 242, 0, 1] + le32(0) + [8, 0, 15, 0] + le32(1003) + [8, 0, 1, 0, 10, 77, 0, 0]
            + le16(36) + [9, 0] + hop1 + hop2
        let routes = try RouteNetlinkDecoder.routes(message(payload))
        #expect(routes.map(\.onLink) == [true, false])
        #expect(routes.map(\.gateway) == [IPAddress("10.9.4.1"), IPAddress("10.9.2.2")])
        #expect(routes.allSatisfy { $0.table == 1003 && $0.destination == IPAddress("10.77.0.0") })
    }

    @Test func capturedDumpOfOnLinkRoutesDecodesTheFlagSingleAndPerNextHop() throws {
        // `default via 10.9.3.1 dev v1 onlink table 1003` and a multipath route whose first hop is onlink,
        // captured from the kernel (scripts/robustness/fuzz-corpus.py).
        let seeds = try FuzzSeedTests.files("FuzzEvents").filter { $0.name.hasPrefix("rtnetlink-routes") }
        let routes = try seeds.flatMap { try WireDecoding.rtnetlink($0.datagram).get().routes }
        let table = routes.filter { $0.table == 1003 }
        #expect(table.contains { $0.isDefault && $0.gateway == IPAddress("10.9.3.1") && $0.onLink }, "\(table)")
        #expect(table.filter { !$0.isDefault }.map(\.onLink) == [true, false], "\(table)")
        #expect(routes.filter { $0.table != 1003 }.allSatisfy { !$0.onLink })
    }

    @Test func anOnLinkRouteWithoutGatewayOrInterfaceIsRefusedBeforeSending() {
        var noGateway = Self.onLinkDefault
        noGateway.gateway = nil
        #expect(RoutingRequest.problem(with: noGateway) == "an on-link route needs a gateway and an output interface")
        var noInterface = Self.onLinkDefault
        noInterface.outputInterface = 0
        #expect(RoutingRequest.problem(with: noInterface) != nil)
        #expect(RoutingRequest.problem(with: Self.onLinkDefault) == nil)
    }

    @Test func anOnLinkRouteIsDescribedAsIpRouteSaysIt() {
        #expect(RoutingTables.describe(Self.onLinkDefault) == "default via 10.9.0.1 dev 3 onlink table 7300")
    }
}
