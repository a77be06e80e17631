import MPTCPKit

/// A value with one fixed JSON shape on the control API (a method's result, or a
/// part of one): the daemon writes it with `json`, the CLI reads it back with
/// `init(json:)`. The shapes are documented in `mptcpctld(8)`, API; keep them stable.
public protocol ControlRecord: Hashable, Sendable {
    /// The record as it travels on the wire.
    var json: JSONValue { get }
    /// Reads the record back; a member missing or of the wrong kind is an error
    /// naming it.
    init(json: JSONValue) throws(RPCError)
}

/// A list of records is the result of the listing methods (`connections`, `endpoints`…).
extension Array: ControlRecord where Element: ControlRecord {
    public var json: JSONValue { .array(map(\.json)) }

    public init(json: JSONValue) throws(RPCError) {
        guard case .array(let items) = json else { throw .invalidRequest("the daemon's answer: expected an array, got \(json.kind)") }
        var records: [Element] = []
        for item in items { records.append(try Element(json: item)) }
        self = records
    }
}

/// Reads the members of a record's JSON object, with errors that name the member
/// (`status.version: expected a string`).
public struct RecordReader: Sendable {
    public let members: [String: JSONValue]
    let name: String

    public init(_ json: JSONValue, _ name: String) throws(RPCError) {
        guard case .object(let members) = json else {
            throw .invalidRequest("the daemon's answer: \(name) is an object, not \(json.kind)")
        }
        self.members = members
        self.name = name
    }

    func wrong(_ key: String, _ expected: String) -> RPCError {
        .invalidRequest("the daemon's answer: \(name).\(key): expected \(expected), got \(members[key]?.kind ?? "nothing")")
    }

    public func string(_ key: String) throws(RPCError) -> String {
        guard let s = members[key]?.stringValue else { throw wrong(key, "a string") }
        return s
    }

    /// A string, or nil when the member is absent or null.
    public func optionalString(_ key: String) throws(RPCError) -> String? {
        guard let v = members[key], v != .null else { return nil }
        guard let s = v.stringValue else { throw wrong(key, "a string") }
        return s
    }

    public func integer<I: FixedWidthInteger>(_ key: String, as: I.Type = I.self) throws(RPCError) -> I {
        guard let i = members[key]?.integerValue, let value = I(exactly: i) else { throw wrong(key, "an integer in range") }
        return value
    }

    /// An integer, or nil when the member is absent or null.
    public func optionalInteger<I: FixedWidthInteger>(_ key: String, as: I.Type = I.self) throws(RPCError) -> I? {
        guard let v = members[key], v != .null else { return nil }
        guard let i = v.integerValue, let value = I(exactly: i) else { throw wrong(key, "an integer in range") }
        return value
    }

    public func number(_ key: String) throws(RPCError) -> Double {
        switch members[key] {
        case .number(let d)?: return d
        case .integer(let i)?: return Double(i)
        default: throw wrong(key, "a number")
        }
    }

    public func bool(_ key: String) throws(RPCError) -> Bool {
        guard let b = members[key]?.boolValue else { throw wrong(key, "a boolean") }
        return b
    }

    public func array(_ key: String) throws(RPCError) -> [JSONValue] {
        guard let a = members[key]?.arrayValue else { throw wrong(key, "an array") }
        return a
    }

    public func address(_ key: String) throws(RPCError) -> IPAddress {
        let text = try string(key)
        guard let address = IPAddress(text) else { throw wrong(key, "an IP address") }
        return address
    }

    public func token(_ key: String = "token") throws(RPCError) -> UInt32 {
        let text = try string(key)
        guard let token = parseToken(text) else { throw wrong(key, "a token (8 hex digits)") }
        return token
    }
}

/// `value`, or null for nil: members the API always writes, null when unknown.
func orNull(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
func orNull<I: BinaryInteger>(_ value: I?) -> JSONValue { value.map { .integer(Int64($0)) } ?? .null }
