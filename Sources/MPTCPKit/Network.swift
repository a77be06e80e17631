import CNetlink

/// An interface as rtnetlink describes it (`RTM_NEWLINK`).
public struct Link: Hashable, Sendable {
    public var index: Int32
    public var name: String
    /// `ifi_flags` (`IFF_*`).
    public var flags: UInt32
    /// `IFLA_OPERSTATE` (`IF_OPER_*`, RFC 2863); `unknown` when the driver does not say.
    public var operState: OperState

    public init(index: Int32, name: String, flags: UInt32, operState: OperState) {
        self.index = index
        self.name = name
        self.flags = flags
        self.operState = operState
    }

    /// `IFF_UP`: administratively up.
    public var isAdministrativelyUp: Bool { flags & 0x1 != 0 }

    /// Up and able to carry traffic: administratively up, and operationally up or
    /// `unknown` (loopback, dummy and many virtual drivers never report a state).
    public var isUsable: Bool { isAdministrativelyUp && (operState == .up || operState == .unknown) }

    /// `IF_OPER_*` from `linux/if.h`.
    public struct OperState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let unknown = OperState(rawValue: 0)
        public static let notPresent = OperState(rawValue: 1)
        public static let down = OperState(rawValue: 2)
        public static let lowerLayerDown = OperState(rawValue: 3)
        public static let testing = OperState(rawValue: 4)
        public static let dormant = OperState(rawValue: 5)
        public static let up = OperState(rawValue: 6)

        private static let names = ["unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"]

        /// The name `ip link` prints, lower-cased.
        public var description: String {
            Self.names.indices.contains(Int(rawValue)) ? Self.names[Int(rawValue)] : "state\(rawValue)"
        }
    }
}

/// An address on an interface (`RTM_NEWADDR`).
public struct InterfaceAddress: Hashable, Sendable {
    public var address: IPAddress
    public var prefixLength: UInt8
    public var interfaceIndex: Int32
    /// `IFA_FLAGS` (or `ifa_flags` when the attribute is absent).
    public var flags: UInt32

    public init(address: IPAddress, prefixLength: UInt8, interfaceIndex: Int32, flags: UInt32 = 0) {
        self.address = address
        self.prefixLength = prefixLength
        self.interfaceIndex = interfaceIndex
        self.flags = flags
    }

    /// `IFA_F_TENTATIVE`: IPv6 duplicate address detection has not finished.
    public var isTentative: Bool { flags & 0x40 != 0 }
    /// `IFA_F_DEPRECATED`: the preferred lifetime is over; not for new connections.
    public var isDeprecated: Bool { flags & 0x20 != 0 }
    /// `IFA_F_DADFAILED`: duplicate address detection found the address in use.
    public var hasFailedDAD: Bool { flags & 0x08 != 0 }

    /// fe80::/10 or 169.254.0.0/16.
    public var isLinkLocal: Bool {
        let b = address.bytes
        switch address {
        case .v4: return b[0] == 169 && b[1] == 254
        case .v6: return address.isIPv6LinkLocal
        }
    }
}

/// A default route of the main table: the interfaces traffic leaves through.
public struct DefaultRoute: Hashable, Sendable {
    /// `AF_INET` or `AF_INET6`.
    public var family: UInt16
    public var interfaceIndex: Int32

    public init(family: UInt16, interfaceIndex: Int32) {
        self.family = family
        self.interfaceIndex = interfaceIndex
    }
}

/// One consistent read of a namespace's links, addresses, routes and rules.
public struct NetworkSnapshot: Hashable, Sendable {
    public var links: [Link]
    public var addresses: [InterfaceAddress]
    /// The main table's unicast default routes, by family and interface.
    public var defaultRoutes: Set<DefaultRoute>
    /// Every unicast route of every table, IPv4 and IPv6.
    public var routes: [Route]
    /// Every routing rule, IPv4 and IPv6.
    public var rules: [RoutingRule]
    /// False on a kernel built without policy routing (`CONFIG_FIB_RULES`): it
    /// answers the rule dump with EOPNOTSUPP, so `rules` is empty and no rule can be made.
    public var hasPolicyRouting: Bool

    public init(links: [Link], addresses: [InterfaceAddress], defaultRoutes: Set<DefaultRoute>,
                routes: [Route] = [], rules: [RoutingRule] = [], hasPolicyRouting: Bool = true) {
        self.links = links
        self.addresses = addresses
        self.defaultRoutes = defaultRoutes
        self.routes = routes
        self.rules = rules
        self.hasPolicyRouting = hasPolicyRouting
    }

    /// Dumps links, addresses, routes and rules of `namespace` (`RTM_GETLINK`,
    /// `RTM_GETADDR`, `RTM_GETROUTE`, `RTM_GETRULE`).
    public static func read(namespace: NetworkNamespace = .current) throws(MPTCPError) -> NetworkSnapshot {
        try namespace.perform { () throws(MPTCPError) -> NetworkSnapshot in
            let reader = try NetworkReader()
            return try reader.read()
        }
    }

    /// Decodes dump replies (with `RouteNetlinkDecoder`); pure, so it is unit-tested without a kernel.
    /// `routes` keeps the unicast routes of every table; `rules` every IPv4 and IPv6 rule.
    init(linkMessages: [NetlinkMessage], addressMessages: [NetlinkMessage],
         routeMessages: [NetlinkMessage], ruleMessages: [NetlinkMessage] = []) throws(DecodeError) {
        links = try linkMessages.filter { $0.type == RT.newLink }.map { m throws(DecodeError) in try RouteNetlinkDecoder.link(m) }
        addresses = []
        for m in addressMessages where m.type == RT.newAddr {
            if let address = try RouteNetlinkDecoder.address(m) { addresses.append(address) }
        }
        routes = []
        defaultRoutes = []
        for m in routeMessages where m.type == RT.newRoute {
            routes += try RouteNetlinkDecoder.routes(m).filter { $0.type == Route.typeUnicast }
            defaultRoutes.formUnion(try RouteNetlinkDecoder.defaultRoutes(m))
        }
        rules = []
        for m in ruleMessages where m.type == RT.newRule {
            if let rule = try RouteNetlinkDecoder.rule(m) { rules.append(rule) }
        }
        hasPolicyRouting = true
    }

    /// The link with this index.
    public func link(_ index: Int32) -> Link? { links.first { $0.index == index } }

    /// Whether a default route of `family` leaves through interface `index`.
    public func hasDefaultRoute(family: UInt16, through index: Int32) -> Bool {
        defaultRoutes.contains(DefaultRoute(family: family, interfaceIndex: index))
    }
}

/// A request socket for the four rtnetlink dumps, kept open for repeated
/// reads. Not thread-safe: its owner serialises `read()` (the daemon calls it
/// from its one reconciling task).
public final class NetworkReader {
    private let socket: NetlinkSocket

    init() throws(MPTCPError) {
        socket = try NetlinkSocket(protocol: NL.protoRoute)
    }

    /// Opens the socket in `namespace`.
    public convenience init(namespace: NetworkNamespace) throws(MPTCPError) {
        let socket = try namespace.perform { () throws(MPTCPError) -> NetlinkSocket in try NetlinkSocket(protocol: NL.protoRoute) }
        self.init(socket: socket)
    }

    private init(socket: NetlinkSocket) { self.socket = socket }

    /// One snapshot of links, addresses, routes (every table) and rules; on a
    /// kernel without policy routing (the rule dump `isNotSupported`) no rules
    /// and `hasPolicyRouting` false, not a failure.
    public func read() throws(MPTCPError) -> NetworkSnapshot {
        let links = try dump(RT.getLink, "list interfaces")
        let addrs = try dump(RT.getAddr, "list addresses")
        let routes = try dump(RT.getRoute, "list routes")
        var rules: [NetlinkMessage]?
        do throws(MPTCPError) { rules = try dump(RT.getRule, "list routing rules") } catch let error where error.isNotSupported { rules = nil }
        var snapshot = try decode("read interfaces, addresses, routes and rules") { () throws(DecodeError) in
            try NetworkSnapshot(linkMessages: links, addressMessages: addrs, routeMessages: routes, ruleMessages: rules ?? [])
        }
        snapshot.hasPolicyRouting = rules != nil
        return snapshot
    }

    /// The interface names and addresses, without routes.
    func interfaceTable() throws(MPTCPError) -> InterfaceTable {
        let links = try dump(RT.getLink, "list interfaces")
        let addrs = try dump(RT.getAddr, "list addresses")
        return try decode("list interfaces") { () throws(DecodeError) in
            try InterfaceTable(linkMessages: links, addressMessages: addrs)
        }
    }

    /// A dump of every link, address, route or rule: the request's ifinfomsg (16 bytes),
    /// ifaddrmsg (8), rtmsg or fib_rule_hdr (12) all zero, for AF_UNSPEC and every table.
    private func dump(_ type: UInt16, _ operation: String) throws(MPTCPError) -> [NetlinkMessage] {
        let headerLength = type == RT.getLink ? 16 : type == RT.getAddr ? 8 : 12
        return try socket.transact(type: Int32(type), flags: NL.fDump, genlCommand: nil,
                                   payload: [UInt8](repeating: 0, count: headerLength), operation: operation)
    }
}

/// What a read from the rtnetlink subscription yields.
public enum NetworkNotice: Hashable, Sendable {
    /// A link, address, route or rule changed (`RTM_NEWLINK`, `RTM_DELADDR`, ...).
    case changed(kind: Kind, interfaceIndex: Int32?)
    /// The receive buffer overran: notifications were lost; re-read everything.
    case lost

    public enum Kind: String, Hashable, Sendable {
        case link, address, route, rule
    }
}

/// A subscription to rtnetlink's link, address, route and rule groups, on a socket of
/// its own with a large receive buffer. Not thread-safe: one reader calls `next`.
public final class NetworkMonitor {
    private let socket: NetlinkSocket

    /// Joins the groups in `namespace`.
    public init(namespace: NetworkNamespace = .current, receiveBuffer: Int = 4 << 20) throws(MPTCPError) {
        socket = try namespace.perform { () throws(MPTCPError) -> NetlinkSocket in
            let sock = try NetlinkSocket(protocol: NL.protoRoute)
            nl_socket_disable_seq_check(sock.handle)
            for group in [RT.groupLink, RT.groupIPv4Address, RT.groupIPv6Address, RT.groupIPv4Route, RT.groupIPv6Route,
                          RT.groupIPv4Rule, RT.groupIPv6Rule] {
                try libnlCall("join rtnetlink group \(group)") { nl_socket_add_membership(sock.handle, group) }
            }
            sock.setReceiveBuffer(receiveBuffer)
            return sock
        }
    }

    /// Waits up to `timeoutMilliseconds` (forever when nil) and returns the
    /// notices of one datagram; empty when nothing arrived in time.
    public func next(timeoutMilliseconds: Int32? = nil) throws(MPTCPError) -> [NetworkNotice] {
        guard let received = try socket.receiveDatagram(wait: true, timeoutMilliseconds: timeoutMilliseconds,
                                                        operation: "read interface changes") else { return [] }
        switch received {
        case .overrun:
            return [.lost]
        case .messages(let messages):
            return messages.compactMap { m -> NetworkNotice? in
                let index = RouteNetlinkDecoder.interfaceIndex(m)
                switch m.type {
                case RT.newLink, RT.delLink: return .changed(kind: .link, interfaceIndex: index)
                case RT.newAddr, RT.delAddr: return .changed(kind: .address, interfaceIndex: index)
                case RT.newRoute, RT.delRoute:
                    // The interface of a route's (first) next hop, so a gateway change names its uplink.
                    let oif = (try? RouteNetlinkDecoder.routes(m))?.first?.outputInterface
                    return .changed(kind: .route, interfaceIndex: oif == 0 ? nil : oif)
                case RT.newRule, RT.delRule: return .changed(kind: .rule, interfaceIndex: nil)
                default: return nil
                }
            }
        }
    }
}
