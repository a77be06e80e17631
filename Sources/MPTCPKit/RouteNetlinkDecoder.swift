/// The one decoder of rtnetlink messages (`RTM_NEWLINK`, `RTM_NEWADDR`,
/// `RTM_NEWROUTE`), used by `NetworkSnapshot`, `InterfaceTable` and
/// `NetworkMonitor`. Pure: it reads the bytes a socket copied out, so it is
/// unit- and fuzz-tested without a kernel.
enum RouteNetlinkDecoder {
    /// `RTM_NEWLINK`: the interface, from `struct ifinfomsg` (family u8, pad u8,
    /// type u16, index s32, flags u32, change u32), `IFLA_IFNAME` and `IFLA_OPERSTATE`.
    static func link(_ m: NetlinkMessage) throws(DecodeError) -> Link {
        guard m.payload.count >= 16 else { throw DecodeError("RTM_NEWLINK shorter than ifinfomsg") }
        let index = Int32(bitPattern: readLE32(m.payload, m.payload.startIndex + 4))
        let flags = readLE32(m.payload, m.payload.startIndex + 8)
        var name: String?
        var oper = Link.OperState.unknown
        for a in try parseAttributes(m.payload.dropFirst(16)) {
            switch a.type {
            case RT.iflaIfname: name = a.string()
            case RT.iflaOperstate: oper = Link.OperState(rawValue: try a.u8("IFLA_OPERSTATE"))
            default: break
            }
        }
        guard let name else { throw DecodeError("RTM_NEWLINK for index \(index) without IFLA_IFNAME") }
        return Link(index: index, name: name, flags: flags, operState: oper)
    }

    /// `RTM_NEWADDR`: the address, from `struct ifaddrmsg` (family u8, prefixlen
    /// u8, flags u8, scope u8, index u32), `IFA_LOCAL` / `IFA_ADDRESS` and
    /// `IFA_FLAGS`; nil when the message carries no address.
    static func address(_ m: NetlinkMessage) throws(DecodeError) -> InterfaceAddress? {
        guard m.payload.count >= 8 else { throw DecodeError("RTM_NEWADDR shorter than ifaddrmsg") }
        let base = m.payload.startIndex
        let index = Int32(bitPattern: readLE32(m.payload, base + 4))
        var flags = UInt32(m.payload[base + 2])
        var local: IPAddress?, address: IPAddress?
        for a in try parseAttributes(m.payload.dropFirst(8)) {
            switch a.type {
            case RT.ifaLocal: local = IPAddress(bytes: a.value)
            case RT.ifaAddress: address = IPAddress(bytes: a.value)
            case RT.ifaFlags: flags = try a.u32("IFA_FLAGS")
            default: break
            }
        }
        // IFA_LOCAL is the local address on point-to-point links; IFA_ADDRESS otherwise.
        guard let chosen = local ?? address else { return nil }
        return InterfaceAddress(address: chosen, prefixLength: m.payload[base + 1], interfaceIndex: index, flags: flags)
    }

    /// `RTM_NEWROUTE`: the interfaces a unicast default route (dst_len 0) of the
    /// main table leaves through (`RTA_OIF`, or each `RTA_MULTIPATH` next hop);
    /// empty for any other route. `struct rtmsg`: family, dst_len, src_len, tos,
    /// table, protocol, scope, type (u8 each), flags u32.
    static func defaultRoutes(_ m: NetlinkMessage) throws(DecodeError) -> [DefaultRoute] {
        guard m.payload.count >= 12 else { throw DecodeError("RTM_NEWROUTE shorter than rtmsg") }
        let base = m.payload.startIndex
        let family = UInt16(m.payload[base])
        guard m.payload[base + 1] == 0, m.payload[base + 7] == RT.routeUnicast else { return [] }
        var table = UInt32(m.payload[base + 4])
        var interfaces: [Int32] = []
        for a in try parseAttributes(m.payload.dropFirst(12)) {
            switch a.type {
            case RT.rtaTable: table = try a.u32("RTA_TABLE")
            case RT.rtaOif: interfaces.append(Int32(bitPattern: try a.u32("RTA_OIF")))
            case RT.rtaMultipath: interfaces += try nextHopInterfaces(a.value)
            default: break
            }
        }
        guard table == RT.tableMain else { return [] }
        return interfaces.map { DefaultRoute(family: family, interfaceIndex: $0) }
    }

    /// The interfaces of an `RTA_MULTIPATH` list of `struct rtnexthop` (len u16,
    /// flags u8, hops u8, ifindex s32, then attributes).
    static func nextHopInterfaces(_ value: [UInt8]) throws(DecodeError) -> [Int32] {
        var interfaces: [Int32] = []
        var at = value.startIndex
        while at + 8 <= value.endIndex {
            let len = Int(readLE16(value, at))
            guard len >= 8 else { throw DecodeError("RTA_MULTIPATH next hop of \(len) bytes") }
            interfaces.append(Int32(bitPattern: readLE32(value, at + 4)))
            at += (len + 3) & ~3
        }
        return interfaces
    }

    /// The interface a link or address message is about (`ifi_index`,
    /// `ifa_index`: both at offset 4); nil when the message is too short for it.
    static func interfaceIndex(_ m: NetlinkMessage) -> Int32? {
        m.payload.count >= 8 ? Int32(bitPattern: readLE32(m.payload, m.payload.startIndex + 4)) : nil
    }
}
