import MPTCPKit

// The results of the mutating methods.

/// `subflow.create`: the subflow requested, with the local id used.
public struct SubflowCreatedRecord: ControlRecord {
    public var token: UInt32
    public var local: IPAddress
    public var localID: UInt8
    public var remote: AddressAndPort
    public var backup: Bool

    public init(token: UInt32, local: IPAddress, localID: UInt8, remote: AddressAndPort, backup: Bool) {
        self.token = token
        self.local = local
        self.localID = localID
        self.remote = remote
        self.backup = backup
    }

    public var json: JSONValue {
        ["token": .string(formatToken(token)), "local": .string(local.description), "local_id": .integer(Int64(localID)),
         "remote": .string(remote.address.description), "remote_port": .integer(Int64(remote.port)), "backup": .bool(backup)]
    }

    public init(json: JSONValue) throws(RPCError) {
        let r = try RecordReader(json, "subflow.create")
        self.init(token: try r.token(), local: try r.address("local"), localID: try r.integer("local_id"),
                  remote: AddressAndPort(address: try r.address("remote"), port: try r.integer("remote_port")),
                  backup: try r.bool("backup"))
    }
}

/// `subflow.destroy`: `{"destroyed": true}`.
public struct SubflowDestroyedRecord: ControlRecord {
    public init() {}
    public var json: JSONValue { ["destroyed": true] }
    public init(json: JSONValue) throws(RPCError) { _ = try RecordReader(json, "subflow.destroy").bool("destroyed") }
}

/// `subflow.set_backup`: the flag now set.
public struct BackupSetRecord: ControlRecord {
    public var backup: Bool
    public init(backup: Bool) { self.backup = backup }
    public var json: JSONValue { ["backup": .bool(backup)] }
    public init(json: JSONValue) throws(RPCError) { backup = try RecordReader(json, "subflow.set_backup").bool("backup") }
}

/// `announce`: `{"announced": true}`.
public struct AnnouncedRecord: ControlRecord {
    public init() {}
    public var json: JSONValue { ["announced": true] }
    public init(json: JSONValue) throws(RPCError) { _ = try RecordReader(json, "announce").bool("announced") }
}

/// `remove`: `{"removed": true}`.
public struct RemovedRecord: ControlRecord {
    public init() {}
    public var json: JSONValue { ["removed": true] }
    public init(json: JSONValue) throws(RPCError) { _ = try RecordReader(json, "remove").bool("removed") }
}

/// `interface.notify`: the re-examination is queued (`interface` null: all of them).
public struct InterfaceNotifiedRecord: ControlRecord {
    public var interface: String?
    public var action: String?

    public init(interface: String?, action: String?) {
        self.interface = interface
        self.action = action
    }

    public var json: JSONValue {
        var members: [String: JSONValue] = ["interface": orNull(interface), "queued": true]
        if let action { members["action"] = .string(action) }
        return .object(members)
    }

    public init(json: JSONValue) throws(RPCError) {
        let r = try RecordReader(json, "interface.notify")
        self.init(interface: try r.optionalString("interface"), action: try r.optionalString("action"))
    }
}
