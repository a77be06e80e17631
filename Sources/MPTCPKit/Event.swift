/// `enum mptcp_event_type`: the kind of a path-manager event. A struct rather than
/// an enum so that a type a newer kernel adds still decodes and prints.
public struct EventType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `MPTCP_EVENT_CREATED`
    public static let created = EventType(rawValue: 1)
    /// `MPTCP_EVENT_ESTABLISHED`
    public static let established = EventType(rawValue: 2)
    /// `MPTCP_EVENT_CLOSED`
    public static let closed = EventType(rawValue: 3)
    /// `MPTCP_EVENT_ANNOUNCED`
    public static let announced = EventType(rawValue: 6)
    /// `MPTCP_EVENT_REMOVED`
    public static let removed = EventType(rawValue: 7)
    /// `MPTCP_EVENT_SUB_ESTABLISHED`
    public static let subflowEstablished = EventType(rawValue: 10)
    /// `MPTCP_EVENT_SUB_CLOSED`
    public static let subflowClosed = EventType(rawValue: 11)
    /// `MPTCP_EVENT_SUB_PRIORITY`
    public static let subflowPriority = EventType(rawValue: 13)
    /// `MPTCP_EVENT_LISTENER_CREATED`
    public static let listenerCreated = EventType(rawValue: 15)
    /// `MPTCP_EVENT_LISTENER_CLOSED`
    public static let listenerClosed = EventType(rawValue: 16)

    public static let all: [EventType] = [
        .created, .established, .closed, .announced, .removed,
        .subflowEstablished, .subflowClosed, .subflowPriority, .listenerCreated, .listenerClosed,
    ]

    /// The name used in output and JSON: the kernel's own (`MPTCP_EVENT_SUB_CLOSED`
    /// is `sub_closed`, as in the netlink spec's `sub-closed`), lower case. `ip mptcp
    /// monitor` abbreviates three of them (`SF_ESTABLISHED`, `SF_CLOSED`, `SF_PRIO`);
    /// the kernel's names are used everywhere here: output, JSON, metrics labels.
    public var name: String {
        switch self {
        case .created: return "created"
        case .established: return "established"
        case .closed: return "closed"
        case .announced: return "announced"
        case .removed: return "removed"
        case .subflowEstablished: return "sub_established"
        case .subflowClosed: return "sub_closed"
        case .subflowPriority: return "sub_priority"
        case .listenerCreated: return "listener_created"
        case .listenerClosed: return "listener_closed"
        default: return "unknown_\(rawValue)"
        }
    }

    public var description: String { name }
}

/// `MPTCP_PM_EV_FLAG_*`: flags of CREATED / ESTABLISHED events (`MPTCP_ATTR_FLAGS`).
public struct EventFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// `MPTCP_PM_EV_FLAG_DENY_JOIN_ID0`: do not open subflows to the peer's initial address.
    public static let denyJoinID0 = EventFlags(rawValue: 0x1)
    /// `MPTCP_PM_EV_FLAG_SERVER_SIDE` (6.18): this host accepted the connection.
    public static let serverSide = EventFlags(rawValue: 0x2)
}

/// One message of the `mptcp_pm_events` multicast group, with every attribute the
/// kernel sent. Fields are nil when the kernel did not send them.
public struct Event: Hashable, Sendable {
    public var type: EventType
    /// `MPTCP_ATTR_TOKEN`
    public var token: UInt32?
    /// `MPTCP_ATTR_FAMILY`
    public var family: UInt16?
    /// `MPTCP_ATTR_LOC_ID`
    public var localID: UInt8?
    /// `MPTCP_ATTR_REM_ID`
    public var remoteID: UInt8?
    /// `MPTCP_ATTR_SADDR4` / `MPTCP_ATTR_SADDR6`
    public var localAddress: IPAddress?
    /// `MPTCP_ATTR_DADDR4` / `MPTCP_ATTR_DADDR6`
    public var remoteAddress: IPAddress?
    /// `MPTCP_ATTR_SPORT` (big endian on the wire)
    public var localPort: UInt16?
    /// `MPTCP_ATTR_DPORT` (big endian on the wire)
    public var remotePort: UInt16?
    /// `MPTCP_ATTR_BACKUP`. In subflow events this is the *peer's* request
    /// (the MP_JOIN or MP_PRIO backup bit received): a subflow this host opens
    /// as backup reports `false` here and `true` in the peer's event. Read
    /// `ConnectionTable` (`Subflow.backupLocal`) for this host's own choice.
    public var backup: Bool?
    /// `MPTCP_ATTR_ERROR`: the subflow's socket error (an errno).
    public var error: UInt8?
    /// `MPTCP_ATTR_FLAGS`
    public var flags: EventFlags?
    /// `MPTCP_ATTR_TIMEOUT`
    public var timeout: UInt32?
    /// `MPTCP_ATTR_IF_IDX`
    public var interfaceIndex: Int32?
    /// `MPTCP_ATTR_RESET_REASON`: the MP_TCPRST reason code.
    public var resetReason: UInt32?
    /// `MPTCP_ATTR_RESET_FLAGS`
    public var resetFlags: UInt32?
    /// `MPTCP_ATTR_SERVER_SIDE` (deprecated since 6.18, which sends the flag instead).
    public var serverSideAttribute: Bool?
    /// Attributes this version does not know, kept so nothing a newer kernel sends is lost.
    public var unknownAttributes: [NetlinkAttribute]

    public init(type: EventType, token: UInt32? = nil, family: UInt16? = nil, localID: UInt8? = nil,
                remoteID: UInt8? = nil, localAddress: IPAddress? = nil, remoteAddress: IPAddress? = nil,
                localPort: UInt16? = nil, remotePort: UInt16? = nil, backup: Bool? = nil, error: UInt8? = nil,
                flags: EventFlags? = nil, timeout: UInt32? = nil, interfaceIndex: Int32? = nil,
                resetReason: UInt32? = nil, resetFlags: UInt32? = nil, serverSideAttribute: Bool? = nil,
                unknownAttributes: [NetlinkAttribute] = []) {
        self.type = type
        self.token = token
        self.family = family
        self.localID = localID
        self.remoteID = remoteID
        self.localAddress = localAddress
        self.remoteAddress = remoteAddress
        self.localPort = localPort
        self.remotePort = remotePort
        self.backup = backup
        self.error = error
        self.flags = flags
        self.timeout = timeout
        self.interfaceIndex = interfaceIndex
        self.resetReason = resetReason
        self.resetFlags = resetFlags
        self.serverSideAttribute = serverSideAttribute
        self.unknownAttributes = unknownAttributes
    }

    /// True when this host is the connection's server side, by the 6.18 flag or the legacy attribute.
    public var isServerSide: Bool {
        (flags?.contains(.serverSide) ?? false) || (serverSideAttribute ?? false)
    }

    /// True when the peer asked not to be joined at its initial address and port.
    public var denyJoinID0: Bool { flags?.contains(.denyJoinID0) ?? false }

    /// Decodes an event from its genl command and attributes.
    public init(command: UInt8, attributes: [NetlinkAttribute]) throws(DecodeError) {
        self.init(type: EventType(rawValue: command))
        for a in attributes {
            switch a.type {
            case EventAttr.token: token = try a.u32("token")
            case EventAttr.family: family = try a.u16("family")
            case EventAttr.locID: localID = try a.u8("loc_id")
            case EventAttr.remID: remoteID = try a.u8("rem_id")
            case EventAttr.saddr4: localAddress = try Self.address(a, 4, "saddr4")
            case EventAttr.saddr6: localAddress = try Self.address(a, 16, "saddr6")
            case EventAttr.daddr4: remoteAddress = try Self.address(a, 4, "daddr4")
            case EventAttr.daddr6: remoteAddress = try Self.address(a, 16, "daddr6")
            case EventAttr.sport: localPort = try a.be16("sport")
            case EventAttr.dport: remotePort = try a.be16("dport")
            case EventAttr.backup: backup = try a.u8("backup") != 0
            case EventAttr.error: error = try a.u8("error")
            case EventAttr.flags: flags = EventFlags(rawValue: try a.u16("flags"))
            case EventAttr.timeout: timeout = try a.u32("timeout")
            case EventAttr.ifIndex: interfaceIndex = try a.s32("if_idx")
            case EventAttr.resetReason: resetReason = try a.u32("reset_reason")
            case EventAttr.resetFlags: resetFlags = try a.u32("reset_flags")
            case EventAttr.serverSide: serverSideAttribute = try a.u8("server_side") != 0
            default: unknownAttributes.append(a)
            }
        }
        if let family, let address = localAddress ?? remoteAddress, family != address.family {
            throw DecodeError("event family \(family) does not match its addresses")
        }
    }

    private static func address(_ a: NetlinkAttribute, _ size: Int, _ what: String) throws(DecodeError) -> IPAddress {
        guard a.value.count == size, let address = IPAddress(bytes: a.value) else {
            throw DecodeError("\(what): expected \(size) bytes, got \(a.value.count)")
        }
        return address
    }

    /// The attributes in the order the kernel sends them (for tests and fuzzers).
    public var encodedAttributes: [UInt8] {
        var w = AttributeWriter()
        if let token { w.putU32(EventAttr.token, token) }
        if let serverSideAttribute { w.putU8(EventAttr.serverSide, serverSideAttribute ? 1 : 0) }
        if let flags { w.putU16(EventAttr.flags, flags.rawValue) }
        if let family { w.putU16(EventAttr.family, family) }
        if let localAddress { w.put(localAddress.isIPv4 ? EventAttr.saddr4 : EventAttr.saddr6, localAddress.bytes) }
        if let remoteAddress { w.put(remoteAddress.isIPv4 ? EventAttr.daddr4 : EventAttr.daddr6, remoteAddress.bytes) }
        if let localPort { w.putBE16(EventAttr.sport, localPort) }
        if let remotePort { w.putBE16(EventAttr.dport, remotePort) }
        if let localID { w.putU8(EventAttr.locID, localID) }
        if let remoteID { w.putU8(EventAttr.remID, remoteID) }
        if let backup { w.putU8(EventAttr.backup, backup ? 1 : 0) }
        if let interfaceIndex { w.putS32(EventAttr.ifIndex, interfaceIndex) }
        if let error { w.putU8(EventAttr.error, error) }
        if let timeout { w.putU32(EventAttr.timeout, timeout) }
        if let resetReason { w.putU32(EventAttr.resetReason, resetReason) }
        if let resetFlags { w.putU32(EventAttr.resetFlags, resetFlags) }
        for a in unknownAttributes { w.put(a.type, a.value) }
        return w.bytes
    }
}
