import MPTCPKit

// The parameters of the userspace path manager's commands (`subflow.*`,
// `announce`, `remove`), read in the order the daemon has always checked them.

/// `subflow.create`: open a subflow from `local` to `remote` on connection `token`.
public struct SubflowCreateParams: ControlParams {
    public static let names: Set<String> = ["token", "local", "local_id", "interface", "remote", "remote_port", "backup"]
    public var token: UInt32
    public var local: IPAddress
    /// nil: the id the connection already uses for the address, else the lowest free one.
    public var localID: UInt8?
    /// The interface to bind the subflow to, by name.
    public var interface: String?
    public var remote: AddressAndPort
    public var backup: Bool

    public init(token: UInt32, local: IPAddress, localID: UInt8?, interface: String?, remote: AddressAndPort, backup: Bool) {
        self.token = token
        self.local = local
        self.localID = localID
        self.interface = interface
        self.remote = remote
        self.backup = backup
    }

    public init(_ p: RPCParams) throws(RPCError) {
        token = try p.token()
        local = try p.address("local")
        remote = AddressAndPort(address: try p.address("remote"), port: try p.port("remote_port", required: true))
        backup = try p.bool("backup") ?? false
        interface = try p.string("interface")
        localID = try p.integer("local_id", in: 1...255).map { UInt8($0) }
    }

    public var params: [String: JSONValue] {
        var p: [String: JSONValue] = ["token": .string(formatToken(token)), "local": .string(local.description),
                                     "remote": .string(remote.address.description),
                                     "remote_port": .integer(Int64(remote.port)), "backup": .bool(backup)]
        if let localID { p["local_id"] = .integer(Int64(localID)) }
        if let interface { p["interface"] = .string(interface) }
        return p
    }
}

/// `subflow.destroy`: close the subflow with this exact 4-tuple.
public struct SubflowDestroyParams: ControlParams {
    public static let names: Set<String> = ["token", "local", "local_port", "remote", "remote_port"]
    public var token: UInt32
    public var local: AddressAndPort
    public var remote: AddressAndPort

    public init(token: UInt32, local: AddressAndPort, remote: AddressAndPort) {
        self.token = token
        self.local = local
        self.remote = remote
    }

    public init(_ p: RPCParams) throws(RPCError) {
        token = try p.token()
        local = AddressAndPort(address: try p.address("local"), port: try p.port("local_port", required: true))
        remote = AddressAndPort(address: try p.address("remote"), port: try p.port("remote_port", required: true))
    }

    public var params: [String: JSONValue] {
        ["token": .string(formatToken(token)),
         "local": .string(local.address.description), "local_port": .integer(Int64(local.port)),
         "remote": .string(remote.address.description), "remote_port": .integer(Int64(remote.port))]
    }
}

/// `subflow.set_backup`: mark a subflow backup or not; a port of 0 is left out.
public struct SubflowSetBackupParams: ControlParams {
    public static let names: Set<String> = ["token", "local", "local_port", "remote", "remote_port", "backup"]
    public var token: UInt32
    public var local: AddressAndPort
    public var remote: AddressAndPort
    public var backup: Bool

    public init(token: UInt32, local: AddressAndPort, remote: AddressAndPort, backup: Bool) {
        self.token = token
        self.local = local
        self.remote = remote
        self.backup = backup
    }

    public init(_ p: RPCParams) throws(RPCError) {
        token = try p.token()
        local = AddressAndPort(address: try p.address("local"), port: try p.port("local_port", required: false))
        remote = AddressAndPort(address: try p.address("remote"), port: try p.port("remote_port", required: false))
        guard let backup = try p.bool("backup") else { throw .invalidParams("params.backup: required") }
        self.backup = backup
    }

    public var params: [String: JSONValue] {
        var p: [String: JSONValue] = ["token": .string(formatToken(token)), "local": .string(local.address.description),
                                     "remote": .string(remote.address.description), "backup": .bool(backup)]
        if local.port != 0 { p["local_port"] = .integer(Int64(local.port)) }
        if remote.port != 0 { p["remote_port"] = .integer(Int64(remote.port)) }
        return p
    }
}

/// `announce`: announce `address` with `id` (ADD_ADDR); a port of 0 is the connection's.
public struct AnnounceParams: ControlParams {
    public static let names: Set<String> = ["token", "address", "id", "port", "interface"]
    public var token: UInt32
    public var address: IPAddress
    public var id: UInt8
    public var port: UInt16
    public var interface: String?

    public init(token: UInt32, address: IPAddress, id: UInt8, port: UInt16, interface: String?) {
        self.token = token
        self.address = address
        self.id = id
        self.port = port
        self.interface = interface
    }

    public init(_ p: RPCParams) throws(RPCError) {
        token = try p.token()
        address = try p.address("address")
        guard let id = try p.integer("id", in: 1...255) else { throw .invalidParams("params.id: required") }
        self.id = UInt8(id)
        port = try p.port("port", required: false)
        interface = try p.string("interface")
    }

    public var params: [String: JSONValue] {
        var p: [String: JSONValue] = ["token": .string(formatToken(token)), "address": .string(address.description),
                                     "id": .integer(Int64(id))]
        if port != 0 { p["port"] = .integer(Int64(port)) }
        if let interface { p["interface"] = .string(interface) }
        return p
    }
}

/// `remove`: withdraw local address id `id` (RM_ADDR); 0 is the initial address.
public struct RemoveParams: ControlParams {
    public static let names: Set<String> = ["token", "id"]
    public var token: UInt32
    public var id: UInt8

    public init(token: UInt32, id: UInt8) {
        self.token = token
        self.id = id
    }

    public init(_ p: RPCParams) throws(RPCError) {
        token = try p.token()
        guard let id = try p.integer("id", in: 0...255) else { throw .invalidParams("params.id: required") }
        self.id = UInt8(id)
    }

    public var params: [String: JSONValue] { ["token": .string(formatToken(token)), "id": .integer(Int64(id))] }
}
