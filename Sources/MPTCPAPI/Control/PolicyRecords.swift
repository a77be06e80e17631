/// `policy.show`: the running policy (keys in snake case), its file, and when it
/// was loaded (ISO 8601).
public struct PolicyShowRecord: ControlRecord {
    public var config: String
    public var loadedAt: String
    public var policy: JSONValue

    public init(config: String, loadedAt: String, policy: JSONValue) {
        self.config = config
        self.loadedAt = loadedAt
        self.policy = policy
    }

    public var json: JSONValue { ["config": .string(config), "loaded_at": .string(loadedAt), "policy": policy] }

    public init(json: JSONValue) throws(RPCError) {
        let r = try RecordReader(json, "policy.show")
        self.init(config: try r.string("config"), loadedAt: try r.string("loaded_at"), policy: r.members["policy"] ?? .null)
    }
}

/// One difference between two policies: a key as `policy.show` names it
/// (`interface[2].role`, `kernel.scheduler`), with its old and new values
/// (nil: absent on that side, written as null).
public struct PolicyChangeRecord: ControlRecord {
    public var key: String
    public var old: JSONValue?
    public var new: JSONValue?

    public init(key: String, old: JSONValue?, new: JSONValue?) {
        self.key = key
        self.old = old
        self.new = new
    }

    public var json: JSONValue { ["key": .string(key), "old": old ?? .null, "new": new ?? .null] }

    public init(json: JSONValue) throws(RPCError) {
        let r = try RecordReader(json, "change")
        // (Spelled out: a bare `nil` here would be JSONValue's own null literal.)
        func value(_ key: String) -> JSONValue? {
            guard let v = r.members[key], v != .null else { return Optional<JSONValue>.none }
            return v
        }
        self.init(key: try r.string("key"), old: value("old"), new: value("new"))
    }
}

/// `policy.reload`: the file was valid and is being applied; what it changes.
public struct ReloadRecord: ControlRecord {
    public var config: String
    public var changes: [PolicyChangeRecord]

    public init(config: String, changes: [PolicyChangeRecord]) {
        self.config = config
        self.changes = changes
    }

    public var json: JSONValue { ["config": .string(config), "reloading": true, "changes": changes.json] }

    public init(json: JSONValue) throws(RPCError) {
        let r = try RecordReader(json, "policy.reload")
        self.init(config: try r.string("config"), changes: try [PolicyChangeRecord](json: r.members["changes"] ?? .null))
    }
}

/// `policy.plan`: what the daemon would change now (`mptcpctld --plan --json`'s
/// members: `changes`, `foreign`, `skipped`, `warnings`), the same as text, and
/// how many changes are pending.
public struct PlanRecord: ControlRecord {
    /// The plan as `mptcpctld --plan --json` prints it.
    public var plan: [String: JSONValue]
    public var text: String
    public var pending: Int

    public init(plan: [String: JSONValue], text: String, pending: Int) {
        self.plan = plan.filter { $0.key != "text" && $0.key != "pending" }
        self.text = text
        self.pending = pending
    }

    public var json: JSONValue {
        var members = plan
        members["text"] = .string(text)
        members["pending"] = .integer(Int64(pending))
        return .object(members)
    }

    public init(json: JSONValue) throws(RPCError) {
        let r = try RecordReader(json, "policy.plan")
        self.init(plan: r.members, text: try r.string("text"), pending: try r.integer("pending"))
    }
}

/// `metrics`: the Prometheus text exposition.
public struct MetricsRecord: ControlRecord {
    public var text: String

    public init(text: String) { self.text = text }

    public var json: JSONValue { ["text": .string(text)] }

    public init(json: JSONValue) throws(RPCError) {
        self.init(text: try RecordReader(json, "metrics").string("text"))
    }
}

/// `subscribe`: the stream is on, with these kinds and a queue of this many
/// events, beginning with the start-up events when `start_up` was asked for.
public struct SubscriptionRecord: ControlRecord {
    public var kinds: [EventRecord.Kind]
    public var queue: Int
    public var startUp: Bool

    public init(kinds: [EventRecord.Kind], queue: Int, startUp: Bool = false) {
        self.kinds = kinds
        self.queue = queue
        self.startUp = startUp
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = ["subscribed": true, "kinds": .array(kinds.map { .string($0.rawValue) }),
                                           "queue": .integer(Int64(queue))]
        if startUp { object["start_up"] = true }
        return .object(object)
    }

    public init(json: JSONValue) throws(RPCError) {
        let r = try RecordReader(json, "subscribe")
        self.init(kinds: try r.array("kinds").compactMap { $0.stringValue.flatMap(EventRecord.Kind.init) },
                  queue: try r.integer("queue"), startUp: json["start_up"]?.boolValue ?? false)
    }
}
