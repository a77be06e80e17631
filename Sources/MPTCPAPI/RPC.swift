#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The release of mptcpctl and mptcpctld (both report it with `--version`).
public let mptcpctlVersion = "0.2.0"

/// The control API's version, reported by `status`; raised on incompatible changes.
public let controlAPIVersion = 1

/// Requests longer than this (bytes, without the newline) are refused and the
/// connection is closed.
public let controlRequestLimit = 64 * 1024

/// One JSON-RPC 2.0 request: a line holding one object.
public struct RPCRequest: Hashable, Sendable {
    /// The request's id; nil for a notification, which gets no response.
    public var id: JSONValue?
    public var method: String
    /// Named parameters (an absent `params` is an empty object).
    public var params: [String: JSONValue]

    public init(id: JSONValue?, method: String, params: [String: JSONValue] = [:]) {
        self.id = id
        self.method = method
        self.params = params
    }
}

/// An API error: a JSON-RPC code, a stable string code for scripts (in
/// `error.data.code`) and a message for people.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: Int
    public var name: String
    public var message: String

    public init(code: Int, name: String, message: String) {
        self.code = code
        self.name = name
        self.message = message
    }

    public var description: String { "\(message) (\(name))" }

    public static func parseError(_ m: String) -> RPCError { RPCError(code: -32700, name: "parse_error", message: m) }
    public static func invalidRequest(_ m: String) -> RPCError { RPCError(code: -32600, name: "invalid_request", message: m) }
    public static func unknownMethod(_ method: String) -> RPCError {
        RPCError(code: -32601, name: "unknown_method", message: "no method \"\(method)\"")
    }
    public static func invalidParams(_ m: String) -> RPCError { RPCError(code: -32602, name: "invalid_params", message: m) }
    public static func internalError(_ m: String) -> RPCError { RPCError(code: -32603, name: "internal_error", message: m) }
    public static func permissionDenied(_ m: String) -> RPCError { RPCError(code: -32001, name: "permission_denied", message: m) }
    public static func requestTooLarge() -> RPCError {
        RPCError(code: -32002, name: "request_too_large", message: "a request is at most \(controlRequestLimit) bytes; closing")
    }
    public static func tooManyClients(_ limit: Int) -> RPCError {
        RPCError(code: -32003, name: "too_many_clients", message: "\(limit) clients are connected already; try again later")
    }
    public static func kernel(_ m: String) -> RPCError { RPCError(code: -32004, name: "kernel_error", message: m) }
    public static func unavailable(_ m: String) -> RPCError { RPCError(code: -32005, name: "unavailable", message: m) }
    public static func invalidPolicy(_ m: String) -> RPCError { RPCError(code: -32006, name: "invalid_policy", message: m) }
}

/// Encoding and decoding of the wire format: one JSON object per line, UTF-8.
public enum RPCWire {
    /// Decodes one request line. A failure carries the request's id when it
    /// could be read (JSON-RPC answers a parse error with a null id).
    public static func decodeRequest(_ line: some Collection<UInt8>) -> Result<RPCRequest, RequestFailure> {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(line))
        } catch {
            return .failure(RequestFailure(id: .null, error: .parseError("not valid JSON")))
        }
        guard case .object(let members) = value else {
            return .failure(RequestFailure(id: .null, error: .invalidRequest("a request is a JSON object, not \(value.kind)")))
        }
        let id = members["id"]
        let answerID = id ?? .null
        switch id {
        case nil, .string?, .integer?, .null?: break
        case .number(let d)?:
            return .failure(RequestFailure(id: .null, error: .invalidRequest("id \(d): an id is a string or an integer")))
        case let other?:
            return .failure(RequestFailure(id: .null, error: .invalidRequest("id: an id is a string or an integer, not \(other.kind)")))
        }
        guard members["jsonrpc"] == .string("2.0") else {
            return .failure(RequestFailure(id: answerID, error: .invalidRequest("jsonrpc: must be \"2.0\"")))
        }
        guard case .string(let method)? = members["method"], !method.isEmpty else {
            return .failure(RequestFailure(id: answerID, error: .invalidRequest("method: a non-empty string is required")))
        }
        for key in members.keys where !["jsonrpc", "id", "method", "params"].contains(key) {
            return .failure(RequestFailure(id: answerID, error: .invalidRequest("\(key): not a request member")))
        }
        var params: [String: JSONValue] = [:]
        switch members["params"] {
        case nil: break
        case .object(let p)?: params = p
        case .array(let a)? where a.isEmpty: break
        case let other?:
            return .failure(RequestFailure(id: answerID, error: .invalidParams("params: named parameters (an object) are required, not \(other.kind)")))
        }
        return .success(RPCRequest(id: id, method: method, params: params))
    }

    /// A request that could not be decoded, and the id to answer it with.
    public struct RequestFailure: Error, Hashable, Sendable {
        public var id: JSONValue
        public var error: RPCError
    }

    /// One request line, newline included.
    public static func encode(_ request: RPCRequest) -> [UInt8] {
        var members: [String: JSONValue] = ["jsonrpc": "2.0", "method": .string(request.method)]
        if let id = request.id { members["id"] = id }
        if !request.params.isEmpty { members["params"] = .object(request.params) }
        return line(.object(members))
    }

    /// One response line, newline included.
    /// A notification from the daemon (a subscription's `event`): no id, one line.
    public static func encodeNotification(method: String, params: JSONValue) -> [UInt8] {
        line(.object(["jsonrpc": "2.0", "method": .string(method), "params": params]))
    }

    public static func encodeResponse(id: JSONValue, _ outcome: Result<JSONValue, RPCError>) -> [UInt8] {
        var members: [String: JSONValue] = ["jsonrpc": "2.0", "id": id]
        switch outcome {
        case .success(let result): members["result"] = result
        case .failure(let e):
            members["error"] = ["code": .integer(Int64(e.code)), "message": .string(e.message), "data": ["code": .string(e.name)]]
        }
        return line(.object(members))
    }

    /// A line from the daemon: an answer, or a notification (`event`, `events_missed`).
    public enum Message: Sendable {
        case response(id: JSONValue, outcome: Result<JSONValue, RPCError>)
        case notification(method: String, params: JSONValue)
    }

    /// Decodes one line from the daemon, answer or notification.
    public static func decodeMessage(_ line: some Collection<UInt8>) throws(RPCError) -> Message {
        let value: JSONValue
        do { value = try JSONDecoder().decode(JSONValue.self, from: Data(line)) } catch {
            throw .parseError("the daemon's answer is not valid JSON")
        }
        if case .object(let members) = value, members["id"] == nil, members["jsonrpc"] == .string("2.0"),
           case .string(let method)? = members["method"] {
            return .notification(method: method, params: members["params"] ?? .null)
        }
        let (id, outcome) = try decodeResponse(line)
        return .response(id: id, outcome: outcome)
    }

    /// Decodes one response line.
    public static func decodeResponse(_ line: some Collection<UInt8>) throws(RPCError) -> (id: JSONValue, outcome: Result<JSONValue, RPCError>) {
        let value: JSONValue
        do { value = try JSONDecoder().decode(JSONValue.self, from: Data(line)) } catch {
            throw .parseError("the daemon's answer is not valid JSON")
        }
        guard case .object(let members) = value, members["jsonrpc"] == .string("2.0") else {
            throw .invalidRequest("the daemon's answer is not a JSON-RPC 2.0 response")
        }
        let id = members["id"] ?? .null
        if let result = members["result"] { return (id, .success(result)) }
        guard let error = members["error"], let code = error["code"]?.integerValue,
              let message = error["message"]?.stringValue else {
            throw .invalidRequest("the daemon's answer has neither a result nor an error")
        }
        let name = error["data"]?["code"]?.stringValue ?? "error"
        return (id, .failure(RPCError(code: Int(code), name: name, message: message)))
    }

    /// `value` as compact JSON (keys sorted, slashes unescaped), without a newline.
    public static func text(_ value: JSONValue) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        JSONWriter.write(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func line(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        JSONWriter.write(value, to: &out)
        out.append(0x0A)
        return out
    }
}

/// Typed access to a request's named parameters, with errors that name the
/// parameter; unknown parameters are refused.
public struct RPCParams: Sendable {
    public let values: [String: JSONValue]

    public init(_ values: [String: JSONValue], allowed: Set<String>) throws(RPCError) {
        for key in values.keys.sorted() where !allowed.contains(key) {
            let known = allowed.isEmpty ? "this method takes none" : "known: " + allowed.sorted().joined(separator: ", ")
            throw .invalidParams("params.\(key): unknown parameter (\(known))")
        }
        self.values = values
    }

    public func string(_ key: String) throws(RPCError) -> String? {
        guard let v = values[key], v != .null else { return nil }
        guard let s = v.stringValue else { throw .invalidParams("params.\(key): expected a string, got \(v.kind)") }
        return s
    }

    public func requiredString(_ key: String) throws(RPCError) -> String {
        guard let s = try string(key) else { throw .invalidParams("params.\(key): required") }
        return s
    }

    public func integer(_ key: String, in range: ClosedRange<Int64>) throws(RPCError) -> Int64? {
        guard let v = values[key], v != .null else { return nil }
        guard let i = v.integerValue else { throw .invalidParams("params.\(key): expected an integer, got \(v.kind)") }
        guard range.contains(i) else {
            throw .invalidParams("params.\(key): \(i) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return i
    }

    public func bool(_ key: String) throws(RPCError) -> Bool? {
        guard let v = values[key], v != .null else { return nil }
        guard let b = v.boolValue else { throw .invalidParams("params.\(key): expected a boolean, got \(v.kind)") }
        return b
    }
}

/// Compact JSON, written directly (the API answers tens of thousands of requests
/// a second; JSONEncoder's generic containers cost more than the request).
/// Keys are sorted; strings are escaped as RFC 8259 requires (quote, backslash,
/// control characters), everything else is written as UTF-8.
enum JSONWriter {
    static func write(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out += [0x6E, 0x75, 0x6C, 0x6C]
        case .bool(let b): out += b ? [0x74, 0x72, 0x75, 0x65] : [0x66, 0x61, 0x6C, 0x73, 0x65]
        case .integer(let i): out += String(i).utf8
        case .number(let d):
            if d.isFinite {
                // Integral doubles print without ".0" as JSONEncoder does.
                if d == d.rounded(), abs(d) < 1e15 { out += String(Int64(d)).utf8 } else { out += "\(d)".utf8 }
            } else {
                out += [0x6E, 0x75, 0x6C, 0x6C]
            }
        case .string(let s): string(s, to: &out)
        case .array(let a):
            out.append(0x5B)
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(0x2C) }
                write(v, to: &out)
            }
            out.append(0x5D)
        case .object(let o):
            out.append(0x7B)
            for (i, key) in o.keys.sorted().enumerated() {
                if i > 0 { out.append(0x2C) }
                string(key, to: &out)
                out.append(0x3A)
                // The key came from the dictionary: the lookup cannot miss.
                write(o[key] ?? .null, to: &out)
            }
            out.append(0x7D)
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    static func string(_ s: String, to out: inout [UInt8]) {
        out.append(0x22)
        for byte in s.utf8 {
            switch byte {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0..<0x20: out += [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(0x22)
    }
}
