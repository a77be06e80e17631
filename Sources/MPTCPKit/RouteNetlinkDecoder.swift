/// The one decoder of rtnetlink messages (`RTM_NEWLINK`, `RTM_NEWADDR`,
/// `RTM_NEWROUTE`, `RTM_NEWRULE` — routes and rules in
/// `Routing/RoutingNetlinkDecoder.swift`), used by `NetworkSnapshot`,
/// `InterfaceTable`, `NetworkMonitor` and `RoutingTables`. Pure: it reads the bytes a socket copied out, so it is
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
    /// empty for any other route. Decoded by `routes(_:)`.
    static func defaultRoutes(_ m: NetlinkMessage) throws(DecodeError) -> [DefaultRoute] {
        guard m.payload.count >= 12 else { throw DecodeError("RTM_NEWROUTE shorter than rtmsg") }
        // Only main-table unicast defaults are decoded further, as before routes were.
        guard m.payload[m.payload.startIndex + 1] == 0, m.payload[m.payload.startIndex + 7] == RT.routeUnicast else { return [] }
        return try routes(m).filter { $0.table == RT.tableMain && $0.outputInterface != 0 }
            .map { DefaultRoute(family: $0.family, interfaceIndex: $0.outputInterface) }
    }

    /// The interfaces of an `RTA_MULTIPATH` list of `struct rtnexthop`.
    static func nextHopInterfaces(_ value: [UInt8], family: UInt16 = AddressFamily.inet) throws(DecodeError) -> [Int32] {
        try nextHops(value, family: family).map(\.interface)
    }

    /// The interface a link or address message is about (`ifi_index`,
    /// `ifa_index`: both at offset 4); nil when the message is too short for it.
    static func interfaceIndex(_ m: NetlinkMessage) -> Int32? {
        m.payload.count >= 8 ? Int32(bitPattern: readLE32(m.payload, m.payload.startIndex + 4)) : nil
    }
}
