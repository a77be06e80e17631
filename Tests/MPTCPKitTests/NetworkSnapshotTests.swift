@testable import MPTCPKit
import Testing

/// rtnetlink dump replies decoded into links, addresses and default routes.
struct NetworkSnapshotTests {
    func link(_ index: Int32, _ name: String, flags: UInt32, oper: UInt8?) -> NetlinkMessage {
        var w = AttributeWriter()
        w.put(RT.iflaIfname, Array(name.utf8) + [0])
        if let oper { w.putU8(RT.iflaOperstate, oper) }
        let header: [UInt8] = [0, 0, 0, 0] + le32(UInt32(bitPattern: index)) + le32(flags) + le32(0)
        return NetlinkMessage(type: RT.newLink, flags: 0, sequence: 0, portID: 0, payload: header + w.bytes)
    }

    func address(_ text: String, prefix: UInt8, index: Int32, flags: UInt32? = nil, lowFlags: UInt8 = 0) -> NetlinkMessage {
        let a = IPAddress(text)!
        var w = AttributeWriter()
        w.put(RT.ifaAddress, a.bytes)
        if let flags { w.putU32(RT.ifaFlags, flags) }
        let header: [UInt8] = [a.isIPv4 ? 2 : 10, prefix, lowFlags, 0] + le32(UInt32(bitPattern: index))
        return NetlinkMessage(type: RT.newAddr, flags: 0, sequence: 0, portID: 0, payload: header + w.bytes)
    }

    func route(family: UInt8, dstLength: UInt8, table: UInt32 = 254, type: UInt8 = 1, oif: Int32?, multipath: [Int32] = []) -> NetlinkMessage {
        var w = AttributeWriter()
        w.putU32(RT.rtaTable, table)
        if let oif { w.putS32(RT.rtaOif, oif) }
        if !multipath.isEmpty {
            var hops: [UInt8] = []
            for i in multipath { hops += le16(8) + [0, 0] + le32(UInt32(bitPattern: i)) }
            w.put(RT.rtaMultipath, hops)
        }
        let header: [UInt8] = [family, dstLength, 0, 0, UInt8(min(table, 252)), 3, 0, type] + le32(0)
        return NetlinkMessage(type: RT.newRoute, flags: 0, sequence: 0, portID: 0, payload: header + w.bytes)
    }

    @Test func linksCarryNameFlagsAndOperationalState() throws {
        let s = try NetworkSnapshot(linkMessages: [link(2, "eth0", flags: 0x1, oper: 6), link(3, "wwan0", flags: 0x1, oper: 2),
                                                   link(4, "dummy0", flags: 0x1, oper: nil), link(5, "eth1", flags: 0, oper: 6)],
                                    addressMessages: [], routeMessages: [])
        #expect(s.link(2)?.isUsable == true)
        #expect(s.link(3)?.isUsable == false, "operationally down")
        #expect(s.link(4)?.isUsable == true, "no IFLA_OPERSTATE means unknown, which is usable")
        #expect(s.link(5)?.isUsable == false, "administratively down")
        #expect(s.link(3)?.operState.description == "down")
    }

    @Test func addressFlagsPreferTheFullAttribute() throws {
        let s = try NetworkSnapshot(linkMessages: [], addressMessages: [
            address("10.0.0.1", prefix: 24, index: 2),
            address("2001:db8::1", prefix: 64, index: 2, flags: 0x40, lowFlags: 0),
            address("2001:db8::2", prefix: 64, index: 2, lowFlags: 0x20),
            address("fe80::1", prefix: 64, index: 2, flags: 0x08),
            address("169.254.3.4", prefix: 16, index: 2),
        ], routeMessages: [])
        #expect(s.addresses.count == 5)
        #expect(s.addresses[0].prefixLength == 24 && !s.addresses[0].isTentative && !s.addresses[0].isLinkLocal)
        #expect(s.addresses[1].isTentative)
        #expect(s.addresses[2].isDeprecated, "ifa_flags is used when IFA_FLAGS is absent")
        #expect(s.addresses[3].hasFailedDAD && s.addresses[3].isLinkLocal)
        #expect(s.addresses[4].isLinkLocal)
    }

    @Test func defaultRoutesOfTheMainTableOnly() throws {
        let s = try NetworkSnapshot(linkMessages: [], addressMessages: [], routeMessages: [
            route(family: 2, dstLength: 0, oif: 2),
            route(family: 10, dstLength: 0, oif: 3),
            route(family: 2, dstLength: 24, oif: 4),             // not a default route
            route(family: 2, dstLength: 0, table: 100, oif: 5),  // another table
            route(family: 2, dstLength: 0, type: 7, oif: 6),     // unreachable, not unicast
            route(family: 2, dstLength: 0, oif: nil, multipath: [7, 8]),
        ])
        #expect(s.defaultRoutes == [DefaultRoute(family: 2, interfaceIndex: 2), DefaultRoute(family: 10, interfaceIndex: 3),
                                    DefaultRoute(family: 2, interfaceIndex: 7), DefaultRoute(family: 2, interfaceIndex: 8)])
        #expect(s.hasDefaultRoute(family: 2, through: 2) && !s.hasDefaultRoute(family: 10, through: 2))
    }

    @Test func truncatedHeadersAreErrors() {
        let short = NetlinkMessage(type: RT.newLink, flags: 0, sequence: 0, portID: 0, payload: [0, 0, 0])
        #expect(throws: DecodeError.self) { try NetworkSnapshot(linkMessages: [short], addressMessages: [], routeMessages: []) }
        let shortAddr = NetlinkMessage(type: RT.newAddr, flags: 0, sequence: 0, portID: 0, payload: [2, 24])
        #expect(throws: DecodeError.self) { try NetworkSnapshot(linkMessages: [], addressMessages: [shortAddr], routeMessages: []) }
        let shortRoute = NetlinkMessage(type: RT.newRoute, flags: 0, sequence: 0, portID: 0, payload: [2, 0, 0, 0])
        #expect(throws: DecodeError.self) { try NetworkSnapshot(linkMessages: [], addressMessages: [], routeMessages: [shortRoute]) }
        var bad = route(family: 2, dstLength: 0, oif: nil)
        var w = AttributeWriter()
        w.put(RT.rtaMultipath, le16(4) + [0, 0] + le32(7))   // a next hop shorter than its header
        bad.payload = Array(bad.payload.prefix(12)) + w.bytes
        #expect(throws: DecodeError.self) { try NetworkSnapshot(linkMessages: [], addressMessages: [], routeMessages: [bad]) }
        let nameless = NetlinkMessage(type: RT.newLink, flags: 0, sequence: 0, portID: 0, payload: [UInt8](repeating: 0, count: 16))
        #expect(throws: DecodeError.self) { try NetworkSnapshot(linkMessages: [nameless], addressMessages: [], routeMessages: []) }
    }
}
