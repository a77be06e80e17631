/// `MPTCP_PM_ADDR_FLAG_*`: the flags of an endpoint or of a userspace-PM address.
public struct EndpointFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `MPTCP_PM_ADDR_FLAG_SIGNAL`: announce the address to peers (ADD_ADDR).
    public static let signal = EndpointFlags(rawValue: 0x01)
    /// `MPTCP_PM_ADDR_FLAG_SUBFLOW`: open subflows from this address.
    public static let subflow = EndpointFlags(rawValue: 0x02)
    /// `MPTCP_PM_ADDR_FLAG_BACKUP`: subflows from this address are backup.
    public static let backup = EndpointFlags(rawValue: 0x04)
    /// `MPTCP_PM_ADDR_FLAG_FULLMESH`: a subflow towards every known peer address.
    public static let fullmesh = EndpointFlags(rawValue: 0x08)
    /// `MPTCP_PM_ADDR_FLAG_IMPLICIT`: created by the kernel itself.
    public static let implicit = EndpointFlags(rawValue: 0x10)
    /// `MPTCP_PM_ADDR_FLAG_LAMINAR` (6.18): one subflow towards each announced peer address.
    public static let laminar = EndpointFlags(rawValue: 0x20)

    /// Names in the order `ip mptcp` prints them.
    public static let named: [(String, EndpointFlags)] = [
        ("signal", .signal), ("subflow", .subflow), ("backup", .backup),
        ("fullmesh", .fullmesh), ("implicit", .implicit), ("laminar", .laminar),
    ]

    /// The flag names, with unknown bits as `0x..`.
    public var names: [String] {
        var result = Self.named.filter { contains($0.1) }.map(\.0)
        let known = Self.named.reduce(EndpointFlags()) { $0.union($1.1) }
        let unknown = subtracting(known).rawValue
        if unknown != 0 { result.append("0x" + String(unknown, radix: 16)) }
        return result
    }
}

/// A local address as the `mptcp_pm` family describes it (`MPTCP_PM_ATTR_ADDR` nest):
/// a kernel-PM endpoint, or an entry of a userspace-PM connection's address list.
public struct Endpoint: Hashable, Sendable {
    /// 1...255; 0 asks the kernel to pick one when adding.
    public var id: UInt8
    public var address: IPAddress
    /// 0 when none.
    public var port: UInt16
    public var flags: EndpointFlags
    /// The interface the endpoint is bound to, 0 when none.
    public var interfaceIndex: Int32

    public init(id: UInt8 = 0, address: IPAddress, port: UInt16 = 0, flags: EndpointFlags = [], interfaceIndex: Int32 = 0) {
        self.id = id
        self.address = address
        self.port = port
        self.flags = flags
        self.interfaceIndex = interfaceIndex
    }
}

/// The in-kernel path manager's per-namespace limits (`MPTCP_PM_CMD_GET_LIMITS`).
public struct Limits: Hashable, Sendable {
    /// `MPTCP_PM_ATTR_SUBFLOWS`: extra subflows per connection, 0...8.
    public var subflows: UInt32
    /// `MPTCP_PM_ATTR_RCV_ADD_ADDRS`: ADD_ADDRs accepted per connection, 0...8.
    public var addAddrAccepted: UInt32

    public static let maximum: UInt32 = 8

    public init(subflows: UInt32, addAddrAccepted: UInt32) {
        self.subflows = subflows
        self.addAddrAccepted = addAddrAccepted
    }
}

// MARK: - Codec

/// Which fields of an address nest to send; commands differ in what they accept.
struct AddressNest {
    /// Omitted when an endpoint is named by id alone: the kernel then wants no address.
    var family: UInt16?
    var address: IPAddress?
    var id: UInt8?
    var port: UInt16?
    var flags: EndpointFlags?
    var interfaceIndex: Int32?

    func write(_ w: inout AttributeWriter, as type: UInt16) {
        w.nest(type) { n in
            if let family { n.putU16(AddrAttr.family, family) }
            if let id { n.putU8(AddrAttr.id, id) }
            switch address {
            case .v4(let b)?: n.put(AddrAttr.addr4, b)
            case .v6(let b)?: n.put(AddrAttr.addr6, b)
            case nil: break
            }
            if let port { n.putU16(AddrAttr.port, port) }
            if let flags { n.putU32(AddrAttr.flags, flags.rawValue) }
            if let interfaceIndex { n.putS32(AddrAttr.ifIndex, interfaceIndex) }
        }
    }
}

extension Endpoint {
    /// The nest as `MPTCP_PM_CMD_ADD_ADDR` and dump replies carry it.
    var nest: AddressNest {
        AddressNest(family: address.family, address: address, id: id, port: port == 0 ? nil : port,
                    flags: flags, interfaceIndex: interfaceIndex == 0 ? nil : interfaceIndex)
    }

    /// Decodes an `MPTCP_PM_ADDR_ATTR_*` nest.
    init(nest attributes: [NetlinkAttribute]) throws(DecodeError) {
        var family: UInt16?
        var id: UInt8 = 0
        var address: IPAddress?
        var port: UInt16 = 0
        var flags = EndpointFlags()
        var ifIndex: Int32 = 0
        for a in attributes {
            switch a.type {
            case AddrAttr.family: family = try a.u16("address family")
            case AddrAttr.id: id = try a.u8("address id")
            case AddrAttr.addr4:
                guard a.value.count == 4 else { throw DecodeError("IPv4 address: expected 4 bytes, got \(a.value.count)") }
                address = .v4(a.value)
            case AddrAttr.addr6:
                guard a.value.count == 16 else { throw DecodeError("IPv6 address: expected 16 bytes, got \(a.value.count)") }
                address = .v6(a.value)
            case AddrAttr.port: port = try a.u16("port")
            case AddrAttr.flags: flags = EndpointFlags(rawValue: try a.u32("flags"))
            case AddrAttr.ifIndex: ifIndex = try a.s32("interface index")
            default: continue  // newer kernels may add attributes; they do not change meaning
            }
        }
        guard let address else { throw DecodeError("address nest without an address") }
        if let family, family != address.family {
            throw DecodeError("address family \(family) does not match a \(address.isIPv4 ? "IPv4" : "IPv6") address")
        }
        self.init(id: id, address: address, port: port, flags: flags, interfaceIndex: ifIndex)
    }

    /// Decodes a `GET_ADDR` reply payload (the attributes after the genl header).
    init(reply attributes: [NetlinkAttribute]) throws(DecodeError) {
        guard let nest = attributes.first(where: { $0.type == PMAttr.addr }) else {
            throw DecodeError("endpoint reply without MPTCP_PM_ATTR_ADDR")
        }
        try self.init(nest: try nest.nested())
    }

    /// Encodes the endpoint as a reply would carry it (used by tests and fuzzers).
    var replyAttributes: [UInt8] {
        var w = AttributeWriter()
        nest.write(&w, as: PMAttr.addr)
        return w.bytes
    }
}

extension Limits {
    init(reply attributes: [NetlinkAttribute]) throws(DecodeError) {
        var subflows: UInt32?
        var accepted: UInt32?
        for a in attributes {
            switch a.type {
            case PMAttr.subflows: subflows = try a.u32("subflows limit")
            case PMAttr.rcvAddAddrs: accepted = try a.u32("add_addr_accepted limit")
            default: continue
            }
        }
        guard let subflows, let accepted else { throw DecodeError("limits reply lacks subflows or add_addr_accepted") }
        self.init(subflows: subflows, addAddrAccepted: accepted)
    }

    var replyAttributes: [UInt8] {
        var w = AttributeWriter()
        w.putU32(PMAttr.rcvAddAddrs, addAddrAccepted)
        w.putU32(PMAttr.subflows, subflows)
        return w.bytes
    }
}
