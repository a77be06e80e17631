import MPTCPKit

/// One endpoint of the in-kernel path manager, as `endpoints` and `mptcpctl
/// endpoint show --json` show it.
public struct EndpointRecord: ControlRecord {
    public var id: UInt8
    public var address: IPAddress
    /// 0: none.
    public var port: UInt16
    /// The flags by name (`subflow`, `signal`, `backup`…).
    public var flags: [String]
    /// The interface it is bound to, by name; nil when unbound.
    public var interface: String?
    /// Whether this daemon added it (and gives it back); nil where nobody asked (the CLI).
    public var owned: Bool?

    public init(id: UInt8, address: IPAddress, port: UInt16, flags: [String], interface: String?, owned: Bool?) {
        self.id = id
        self.address = address
        self.port = port
        self.flags = flags
        self.interface = interface
        self.owned = owned
    }

    public init(_ e: Endpoint, owned: Bool? = nil, interfaceName: (Int32) -> String?) {
        self.init(id: e.id, address: e.address, port: e.port, flags: e.flags.names,
                  interface: e.interfaceIndex == 0 ? nil : interfaceLabel(e.interfaceIndex, interfaceName), owned: owned)
    }

    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "id": .integer(Int64(id)), "address": .string(address.description), "flags": .array(flags.map { .string($0) }),
        ]
        if let owned { members["owned"] = .bool(owned) }
        if port != 0 { members["port"] = .integer(Int64(port)) }
        if let interface { members["interface"] = .string(interface) }
        return .object(members)
    }

    public init(json: JSONValue) throws(RPCError) {
        let r = try RecordReader(json, "endpoint")
        var flags: [String] = []
        for f in try r.array("flags") {
            guard let name = f.stringValue else { throw r.wrong("flags", "an array of strings") }
            flags.append(name)
        }
        self.init(id: try r.integer("id"), address: try r.address("address"), port: try r.optionalInteger("port") ?? 0,
                  flags: flags, interface: try r.optionalString("interface"),
                  owned: r.members["owned"] == nil ? nil : try r.bool("owned"))
    }
}
