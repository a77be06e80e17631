import Testing
@testable import MPTCPKit

/// The one rtnetlink decoder, on byte arrays as the kernel writes them.
@Suite struct RouteNetlinkDecoderTests {
    /// A netlink message of `type` around `payload`, as one datagram's bytes.
    func datagram(type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        le32(UInt32(16 + payload.count)) + le16(type) + le16(0x2) + le32(1) + le32(0) + payload
    }

    func only(_ bytes: [UInt8]) throws -> NetlinkMessage {
        let messages = try NetlinkMessage.parse(bytes)
        try #require(messages.count == 1)
        return messages[0]
    }

    // RTM_NEWLINK eth0, index 2, IFF_UP|IFF_RUNNING (0x41), IFLA_IFNAME "eth0", IFLA_OPERSTATE up (6).
    let eth0Link: [UInt8] = [
        10, 0, 1, 0, 2, 0, 0, 0, 0x41, 0, 0, 0, 0, 0, 0, 0,  // ifinfomsg
        9, 0, 3, 0, 0x65, 0x74, 0x68, 0x30, 0, 0, 0, 0,       // IFLA_IFNAME "eth0\0", padded
        5, 0, 16, 0, 6, 0, 0, 0,                              // IFLA_OPERSTATE
    ]

    @Test func linkBytesDecodeToIndexNameFlagsAndState() throws {
        let link = try RouteNetlinkDecoder.link(try only(datagram(type: RT.newLink, eth0Link)))
        #expect(link == Link(index: 2, name: "eth0", flags: 0x41, operState: .up))
        #expect(link.isUsable)
    }

    @Test func linkWithoutNameIsAnError() throws {
        let m = try only(datagram(type: RT.newLink, Array(eth0Link[0..<16])))
        #expect(throws: DecodeError.self) { try RouteNetlinkDecoder.link(m) }
    }

    @Test func linkShorterThanIfinfomsgIsAnError() throws {
        let m = try only(datagram(type: RT.newLink, [0, 0, 0, 0, 2, 0, 0, 0]))
        #expect(throws: DecodeError.self) { try RouteNetlinkDecoder.link(m) }
    }

    @Test func addressPrefersTheLocalAddressOfAPointToPointLink() throws {
        // ifaddrmsg AF_INET /32, flags 0x80 (permanent), index 5; IFA_ADDRESS 10.0.0.2 (peer), IFA_LOCAL 10.0.0.1.
        let payload: [UInt8] = [2, 32, 0x80, 0, 5, 0, 0, 0,
                                8, 0, 1, 0, 10, 0, 0, 2,
                                8, 0, 2, 0, 10, 0, 0, 1]
        let address = try RouteNetlinkDecoder.address(try only(datagram(type: RT.newAddr, payload)))
        #expect(address == InterfaceAddress(address: IPAddress("10.0.0.1")!, prefixLength: 32, interfaceIndex: 5, flags: 0x80))
    }

    @Test func addressFlagsAttributeReplacesTheLowFlagsByte() throws {
        // IPv6 /64 on index 3, IFA_FLAGS with IFA_F_TENTATIVE (0x40) beyond what ifa_flags says.
        let v6 = IPAddress("2001:db8::1")!
        let payload: [UInt8] = [10, 64, 0, 0, 3, 0, 0, 0] + [20, 0, 1, 0] + v6.bytes + [8, 0, 8, 0, 0x40, 0, 0, 0]
        let address = try #require(try RouteNetlinkDecoder.address(try only(datagram(type: RT.newAddr, payload))))
        #expect(address.address == v6)
        #expect(address.isTentative)
    }

    @Test func addressMessageWithoutAnAddressIsSkipped() throws {
        let m = try only(datagram(type: RT.newAddr, [2, 24, 0, 0, 5, 0, 0, 0]))
        #expect(try RouteNetlinkDecoder.address(m) == nil)
    }

    /// rtmsg for `family`, dst_len, table byte 254 (main), protocol boot, type unicast, then attributes.
    func route(family: UInt8 = 2, dstLength: UInt8 = 0, table: UInt8 = 254, type: UInt8 = 1, _ attributes: [UInt8]) -> [UInt8] {
        [family, dstLength, 0, 0, table, 3, 0, type, 0, 0, 0, 0] + attributes
    }

    @Test func defaultRouteOfTheMainTableNamesItsInterface() throws {
        let m = try only(datagram(type: RT.newRoute, route([8, 0, 4, 0, 7, 0, 0, 0])))  // RTA_OIF 7
        #expect(try RouteNetlinkDecoder.defaultRoutes(m) == [DefaultRoute(family: 2, interfaceIndex: 7)])
    }

    @Test func multipathDefaultRouteNamesEveryNextHop() throws {
        // RTA_MULTIPATH with two rtnexthop of 8 bytes: ifindex 3 and 4.
        let hops: [UInt8] = [20, 0, 9, 0, 8, 0, 0, 0, 3, 0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0]
        let m = try only(datagram(type: RT.newRoute, route(family: 10, hops)))
        #expect(try RouteNetlinkDecoder.defaultRoutes(m) == [DefaultRoute(family: 10, interfaceIndex: 3),
                                                              DefaultRoute(family: 10, interfaceIndex: 4)])
    }

    @Test func routesThatAreNotMainTableUnicastDefaultsAreIgnored() throws {
        let oif: [UInt8] = [8, 0, 4, 0, 7, 0, 0, 0]
        let table100: [UInt8] = [8, 0, 15, 0, 100, 0, 0, 0]
        for payload in [route(dstLength: 24, oif), route(type: 2, oif), route(table: 252, table100 + oif)] {
            let m = try only(datagram(type: RT.newRoute, payload))
            #expect(try RouteNetlinkDecoder.defaultRoutes(m).isEmpty)
        }
    }

    @Test func nextHopShorterThanItsHeaderIsAnError() {
        #expect(throws: DecodeError.self) { try RouteNetlinkDecoder.nextHopInterfaces([4, 0, 0, 0, 3, 0, 0, 0]) }
    }

    @Test func interfaceTableAndSnapshotDecodeTheSameLinksAndAddresses() throws {
        let link = try only(datagram(type: RT.newLink, eth0Link))
        let address = try only(datagram(type: RT.newAddr, [2, 24, 0, 0, 2, 0, 0, 0, 8, 0, 1, 0, 192, 0, 2, 1]))
        let table = try InterfaceTable(linkMessages: [link], addressMessages: [address])
        let snapshot = try NetworkSnapshot(linkMessages: [link], addressMessages: [address], routeMessages: [])
        #expect(table.names == [2: "eth0"])
        #expect(table.index(of: "eth0") == snapshot.links.first?.index)
        #expect(table.interface(holding: IPAddress("192.0.2.1")!) == snapshot.addresses.first?.interfaceIndex)
    }

    @Test func interfaceIndexOfANoticeIsReadAtOffsetFour() throws {
        #expect(RouteNetlinkDecoder.interfaceIndex(try only(datagram(type: RT.newLink, eth0Link))) == 2)
        #expect(RouteNetlinkDecoder.interfaceIndex(NetlinkMessage(type: RT.delLink, flags: 0, sequence: 0, portID: 0, payload: [0, 0])) == nil)
    }
}

/// The generic-netlink request `NetlinkSocket.transactBatch` packs into a datagram.
@Suite struct GenericRequestTests {
    @Test func genericRequestIsLaidOutAsGenlmsgPutDoes() {
        let bytes = genericRequest(type: 0x1d, sequence: 9, command: 10, payload: [1, 2, 3])
        #expect(bytes.count == 24)
        #expect(bytes == le32(23) + le16(0x1d) + le16(0x5) + le32(9) + le32(0) + [10, 1, 0, 0] + [1, 2, 3, 0])
    }
}
