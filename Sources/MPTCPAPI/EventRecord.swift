#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MPTCPKit

/// One event as every consumer sees it: the daemon's `subscribe` stream and its
/// hooks, and `mptcpctl monitor` (`--json` prints `json`, otherwise `text`),
/// whether the monitor reads the kernel directly or through the daemon. The one
/// definition of the event schema (`mptcpctl(8)` monitor, `mptcpctld(8)` subscribe).
public struct EventRecord: Hashable, Sendable {
    /// Where an event comes from.
    public enum Kind: String, Sendable, CaseIterable {
        /// An MPTCP event from the kernel (`type` is the kernel's name: `established`, `sub_closed`…).
        case kernel
        /// A link went up or down, an address came or went.
        case interface
        /// Something the daemon did, or its engine decided, with the reason and the cause.
        case action
        /// Live connections re-read through sock_diag.
        case resync
        /// The policy file was reloaded, or a reload was refused.
        case policy
        /// Events that could not be delivered: dropped by the kernel, unreadable, or
        /// not read fast enough by this subscriber.
        case lost
        /// What the daemon's hooks did: ran, failed, timed out, could not start
        /// (`EventRecord+Outcomes.swift`). Never runs a hook itself.
        case hook
        /// A path's health changed (`path_up`, `path_degraded`, `path_down`), with its evidence.
        case health
    }

    public var kind: Kind
    public var type: String
    /// When it was observed (read from the kernel) or made, in seconds since 1970
    /// to the microsecond; never earlier than an event before it in the same stream.
    public var time: Double
    /// Its place in its source's stream, from 1 (the daemon numbers every event it
    /// publishes, a direct monitor the ones it reads); 0 until it is published.
    public var seq: Int64
    /// Flat fields (`token`, `local_address`, `interface`, `reason`…): strings,
    /// integers, booleans, and arrays of those, so each is also a hook's
    /// environment variable (`flatText`).
    public var fields: [String: JSONValue]

    /// The members every event has, which no field may take.
    public static let reservedKeys: Set<String> = ["kind", "type", "time", "seq"]

    public init(_ kind: Kind, _ type: String, _ fields: [String: JSONValue] = [:], time: Double = 0, seq: Int64 = 0) {
        self.kind = kind
        self.type = type
        self.fields = fields.filter { !Self.reservedKeys.contains($0.key) }
        self.time = time
        self.seq = seq
    }

    /// The current time as `time` holds it (seconds since 1970, to the microsecond).
    public static func now() -> Double {
        (Date().timeIntervalSince1970 * 1_000_000).rounded() / 1_000_000
    }

    /// The JSON object: the fields, `kind`, `type`, `time` and `seq`.
    public var json: JSONValue {
        var object = fields
        object["kind"] = .string(kind.rawValue)
        object["type"] = .string(type)
        object["time"] = .number(time)
        object["seq"] = .integer(seq)
        return .object(object)
    }

    /// Reads an event back from its JSON object (a `subscribe` notification's params).
    public init(json: JSONValue) throws(RPCError) {
        guard case .object(var members) = json else { throw .invalidParams("an event is an object, not \(json.kind)") }
        guard let kindName = members["kind"]?.stringValue, let kind = Kind(rawValue: kindName) else {
            throw .invalidParams("event.kind: one of \(Kind.allCases.map(\.rawValue).joined(separator: ", ")) is required")
        }
        guard let type = members["type"]?.stringValue else { throw .invalidParams("event.type: a string is required") }
        let time: Double
        switch members["time"] {
        case .integer(let i)?: time = Double(i)
        case .number(let d)?: time = d
        default: throw .invalidParams("event.time: a number is required")
        }
        let seq = members["seq"]?.integerValue ?? 0
        for key in Self.reservedKeys { members[key] = nil }
        self.init(kind, type, members, time: time, seq: seq)
    }
}

// MARK: - Kernel events

extension EventRecord {
    /// A kernel event (`MPTCP_EVENT_*`) with every attribute the kernel sent and
    /// nothing it did not: `token` (8 hex digits), `family` (`inet`, `inet6`),
    /// `local_address`, `local_port`, `remote_address`, `remote_port`, `local_id`,
    /// `remote_id`, `backup`, `interface_index` (and `interface`, its name, when it
    /// is not 0 and `interfaceName` knows it), `error`, `flags` (the raw bits, with
    /// `server_side` and `deny_join_id0` naming the two the kernel defines),
    /// `timeout`, `reset_reason`, `reset_flags`, and `attribute_N` (the value in
    /// hex) for an attribute this version does not know.
    public init(_ event: Event, time: Double, interfaceName: (Int32) -> String? = { _ in nil }) {
        var f: [String: JSONValue] = [:]
        if let v = event.token { f["token"] = .string(formatToken(v)) }
        if let v = event.family { f["family"] = .string(v == 2 ? "inet" : v == 10 ? "inet6" : String(v)) }
        if let v = event.localAddress { f["local_address"] = .string(v.description) }
        if let v = event.localPort { f["local_port"] = .integer(Int64(v)) }
        if let v = event.remoteAddress { f["remote_address"] = .string(v.description) }
        if let v = event.remotePort { f["remote_port"] = .integer(Int64(v)) }
        if let v = event.localID { f["local_id"] = .integer(Int64(v)) }
        if let v = event.remoteID { f["remote_id"] = .integer(Int64(v)) }
        if let v = event.backup { f["backup"] = .bool(v) }
        if let v = event.interfaceIndex {
            f["interface_index"] = .integer(Int64(v))
            if v != 0, let name = interfaceName(v) { f["interface"] = .string(name) }
        }
        if let v = event.error { f["error"] = .integer(Int64(v)) }
        if let v = event.flags {
            f["flags"] = .integer(Int64(v.rawValue))
            f["deny_join_id0"] = .bool(v.contains(.denyJoinID0))
        }
        if event.flags != nil || event.serverSideAttribute != nil { f["server_side"] = .bool(event.isServerSide) }
        if let v = event.timeout { f["timeout"] = .integer(Int64(v)) }
        if let v = event.resetReason { f["reset_reason"] = .integer(Int64(v)) }
        if let v = event.resetFlags { f["reset_flags"] = .integer(Int64(v)) }
        for a in event.unknownAttributes {
            f["attribute_\(a.type)"] = .string(a.value.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
        }
        self.init(.kernel, event.type.name, f, time: time)
    }

    /// The kernel dropped events (its receive buffer overran); `message` says what to do.
    public static func kernelEventsLost(message: String, time: Double) -> EventRecord {
        EventRecord(.lost, "kernel_events_lost", ["message": .string(message)], time: time)
    }

    /// An event that could not be decoded, and why.
    public static func malformedEvent(_ why: String, time: Double) -> EventRecord {
        EventRecord(.lost, "malformed_event", ["message": .string(why)], time: time)
    }

    /// `missed` events were dropped at this point of a subscriber's stream (its
    /// queue was full), as the CLI shows the daemon's `events_missed` notification.
    public static func eventsMissed(_ missed: Int64, message: String, time: Double) -> EventRecord {
        EventRecord(.lost, "events_missed", ["missed": .integer(missed), "message": .string(message)], time: time)
    }
}

// MARK: - Text

extension EventRecord {
    /// A field's value as text: strings as they are, numbers in decimal, booleans
    /// `true`/`false`, arrays as their elements separated by spaces; nil for what
    /// has no flat form (null, objects). Hooks' environment variables and the
    /// `key=value` line both use it.
    public static func flatText(_ value: JSONValue) -> String? {
        switch value {
        case .string(let s): return s
        case .integer(let i): return String(i)
        case .number(let d): return RPCWire.text(.number(d))
        case .bool(let b): return b ? "true" : "false"
        case .array(let a): return a.compactMap(flatText).joined(separator: " ")
        case .null, .object: return nil
        }
    }

    /// Fields in the order a line shows them; the rest follow sorted by name.
    private static let order = [
        "token", "family", "local_address", "local_port", "remote_address", "remote_port", "local_id", "remote_id",
        "backup", "interface", "interface_index", "error", "flags", "timeout", "reset_reason", "reset_flags",
        "server_side", "deny_join_id0", "address", "prefix_length", "oper_state", "id", "policy", "result",
        "trigger", "reason", "cause", "cause_seq",
    ]

    /// The kernel's attribute names (`ip mptcp monitor` style) for a kernel event's fields.
    private static let kernelKeys = [
        "local_address": "saddr", "local_port": "sport", "remote_address": "daddr", "remote_port": "dport",
        "local_id": "loc_id", "remote_id": "rem_id",
    ]

    /// One line: `[TYPE] key=value…` for a kernel event (`ip mptcp monitor`
    /// style: `saddr`, `backup=1`, the interface by name, `server_side` and
    /// `deny_join_id0` as bare words when set), `[KIND type] key=value…` for the
    /// others. Values are written as the daemon's log writes them (`LogValue`).
    public var text: String {
        let kernel = kind == .kernel
        var parts = [kernel ? "[\(type.uppercased())]" : "[\(kind.rawValue.uppercased()) \(type)]"]
        var done: Set<String> = []
        func add(_ key: String) {
            guard let v = fields[key], !done.contains(key) else { return }
            done.insert(key)
            if kernel {
                switch key {
                case "interface_index" where fields["interface"] != nil: return
                case "interface_index": parts.append("interface=\(Self.flatText(v) ?? "")"); return
                case "server_side", "deny_join_id0":
                    if v == true { parts.append(key) }
                    return
                case "backup":
                    if let b = v.boolValue { parts.append("backup=\(b ? 1 : 0)"); return }
                case "flags":
                    if let i = v.integerValue { parts.append("flags=0x" + String(i, radix: 16)); return }
                default: break
                }
            }
            guard let text = Self.flatText(v) else { return }
            parts.append("\(kernel ? Self.kernelKeys[key] ?? key : key)=\(LogValue.quoted(text))")
        }
        for key in Self.order { add(key) }
        for key in fields.keys.sorted() { add(key) }
        return parts.joined(separator: " ")
    }
}
