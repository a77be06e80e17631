/// One network interface as `interfaces` shows it, with the `[[interface]]`
/// block that decides for it (role and rule null when none does).
public struct InterfaceRecord: ControlRecord {
    public var name: String
    public var index: Int32
    public var up: Bool
    public var operState: String
    public var role: String?
    /// The block's position in the file, from 1.
    public var rule: Int?
    /// `ADDRESS/PREFIX` each.
    public var addresses: [String]

    public init(name: String, index: Int32, up: Bool, operState: String, role: String?, rule: Int?, addresses: [String]) {
        self.name = name
        self.index = index
        self.up = up
        self.operState = operState
        self.role = role
        self.rule = rule
        self.addresses = addresses
    }

    public var json: JSONValue {
        [
            "name": .string(name), "index": .integer(Int64(index)), "up": .bool(up), "oper_state": .string(operState),
            "role": orNull(role), "rule": orNull(rule), "addresses": .array(addresses.map { .string($0) }),
        ]
    }

    public init(json: JSONValue) throws(RPCError) {
        let r = try RecordReader(json, "interface")
        self.init(name: try r.string("name"), index: try r.integer("index"), up: try r.bool("up"),
                  operState: try r.string("oper_state"), role: try r.optionalString("role"), rule: try r.optionalInteger("rule"),
                  addresses: try r.array("addresses").compactMap(\.stringValue))
    }
}
