import MPTCPKit

/// One MPTCP connection as `connections` (the API method, and `mptcpctl
/// connections --json`) shows it, with its subflows.
public struct ConnectionRecord: ControlRecord {
    public var token: UInt32
    /// `client` or `server`.
    public var side: String
    public var local: AddressAndPort
    public var remote: AddressAndPort
    public var subflows: [SubflowRecord]
    /// The `[[connection]]` block mptcpctld manages it under, when it does.
    public var policy: String?
    /// The kernel's `mptcp_info` figures (the `mptcp` object); nil when not reported.
    public var mptcp: MPTCPFigures?

    public init(token: UInt32, side: String, local: AddressAndPort, remote: AddressAndPort, subflows: [SubflowRecord],
                policy: String? = nil, mptcp: MPTCPFigures? = nil) {
        self.token = token
        self.side = side
        self.local = local
        self.remote = remote
        self.subflows = subflows
        self.policy = policy
        self.mptcp = mptcp
    }

    /// The kernel's connection; `interfaceName` names an interface index (nil: `ifN`).
    public init(_ c: Connection, policy: String? = nil, interfaceName: (Int32) -> String?) {
        self.init(token: c.token, side: c.side.rawValue, local: AddressAndPort(address: c.localAddress, port: c.localPort),
                  remote: AddressAndPort(address: c.remoteAddress, port: c.remotePort),
                  subflows: c.subflows.map { SubflowRecord($0, interfaceName: interfaceName) }, policy: policy,
                  mptcp: MPTCPFigures(c.info))
    }

    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "token": .string(formatToken(token)), "side": .string(side),
            "local_address": .string(local.address.description), "local_port": .integer(Int64(local.port)),
            "remote_address": .string(remote.address.description), "remote_port": .integer(Int64(remote.port)),
            "subflows": subflows.json,
        ]
        if let policy { members["policy"] = .string(policy) }
        if let mptcp { members["mptcp"] = mptcp.json }
        return .object(members)
    }

    public init(json: JSONValue) throws(RPCError) {
        let r = try RecordReader(json, "connection")
        var mptcp: MPTCPFigures?
        if let figures = r.members["mptcp"], figures != .null { mptcp = try MPTCPFigures(json: figures) }
        self.init(token: try r.token(), side: try r.string("side"),
                  local: AddressAndPort(address: try r.address("local_address"), port: try r.integer("local_port")),
                  remote: AddressAndPort(address: try r.address("remote_address"), port: try r.integer("remote_port")),
                  subflows: try [SubflowRecord](json: r.members["subflows"] ?? .null), policy: try r.optionalString("policy"),
                  mptcp: mptcp)
    }
}

/// One subflow of a connection.
public struct SubflowRecord: ControlRecord {
    public var local: AddressAndPort
    public var remote: AddressAndPort
    public var localID: UInt8
    public var remoteID: UInt8
    public var backup: Bool
    /// The interface it is bound to, by name; nil when unbound.
    public var interface: String?
    /// The TCP state (`established`, `syn-sent`, …): only an established subflow carries traffic.
    public var state: String
    /// The kernel's `tcp_info` figures (members of the subflow's object).
    public var figures: SubflowFigures

    public init(local: AddressAndPort, remote: AddressAndPort, localID: UInt8, remoteID: UInt8, backup: Bool,
                interface: String?, state: String, figures: SubflowFigures = SubflowFigures()) {
        self.local = local
        self.remote = remote
        self.localID = localID
        self.remoteID = remoteID
        self.backup = backup
        self.interface = interface
        self.state = state
        self.figures = figures
    }

    public init(_ s: Subflow, interfaceName: (Int32) -> String?) {
        self.init(local: AddressAndPort(address: s.localAddress, port: s.localPort),
                  remote: AddressAndPort(address: s.remoteAddress, port: s.remotePort), localID: s.localID, remoteID: s.remoteID,
                  backup: s.backup, interface: s.interfaceIndex == 0 ? nil : interfaceLabel(s.interfaceIndex, interfaceName),
                  state: s.state.name, figures: s.tcpInfo.map(SubflowFigures.init) ?? SubflowFigures())
    }

    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "local_address": .string(local.address.description), "local_port": .integer(Int64(local.port)),
            "remote_address": .string(remote.address.description), "remote_port": .integer(Int64(remote.port)),
            "local_id": .integer(Int64(localID)), "remote_id": .integer(Int64(remoteID)), "backup": .bool(backup),
            "state": .string(state),
        ]
        if let interface { members["interface"] = .string(interface) }
        figures.write(into: &members)
        return .object(members)
    }

    public init(json: JSONValue) throws(RPCError) {
        let r = try RecordReader(json, "subflow")
        self.init(local: AddressAndPort(address: try r.address("local_address"), port: try r.integer("local_port")),
                  remote: AddressAndPort(address: try r.address("remote_address"), port: try r.integer("remote_port")),
                  localID: try r.integer("local_id"), remoteID: try r.integer("remote_id"), backup: try r.bool("backup"),
                  interface: try r.optionalString("interface"), state: try r.string("state"),
                  figures: try SubflowFigures(reading: r))
    }
}

/// An interface index by name, `ifN` when the name is not known: how every
/// record names the interface a subflow or an endpoint is bound to.
public func interfaceLabel(_ index: Int32, _ name: (Int32) -> String?) -> String {
    name(index) ?? "if\(index)"
}
