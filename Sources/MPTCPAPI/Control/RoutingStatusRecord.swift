/// `status`'s `routing`: the source routing the daemon owns (`[routing]`): its
/// mode, the table of each interface, the rules and routes it made, the
/// rp_filter values it found and changed (given back with `on_exit = "remove"`),
/// and its planner's notes (a missing gateway…).
public struct RoutingStatusRecord: ControlRecord {
    /// `on` or `off` (`routing.mode`).
    public var mode: String
    /// Interface → its table (the same number for IPv4 and IPv6).
    public var tables: [String: Int]
    public var rules: [Rule]
    public var routes: [Route]
    /// Interface → the rp_filter value found before the daemon set it loose.
    public var reversePathFilter: [String: Int]
    public var notes: [String]

    /// A rule the daemon made: `from SOURCE lookup TABLE priority PRIORITY`, or
    /// the suppress rule `from all lookup main suppress_prefixlength 0 priority PRIORITY`.
    public struct Rule: Hashable, Sendable {
        public var family: String
        public var source: String
        public var table: Int
        public var priority: Int
        public var interface: String?
        /// `suppress_prefix_length`: only on the suppress rule (table 254, main).
        public var suppressPrefixLength: Int?

        public init(family: String, source: String, table: Int, priority: Int, interface: String?, suppressPrefixLength: Int? = nil) {
            (self.family, self.source, self.table, self.priority, self.interface) = (family, source, table, priority, interface)
            self.suppressPrefixLength = suppressPrefixLength
        }
    }

    /// A route the daemon made in one of its tables: `DESTINATION [via GATEWAY] dev INTERFACE [onlink] [src SOURCE]`.
    public struct Route: Hashable, Sendable {
        public var family: String
        public var table: Int
        /// `default`, or a prefix.
        public var destination: String
        public var gateway: String?
        public var interface: String?
        public var source: String?
        /// `onlink`: the gateway is on the link without a connected route that
        /// holds it (a /32 address); false when a daemon without it answers.
        public var onLink: Bool

        public init(family: String, table: Int, destination: String, gateway: String?, interface: String?, source: String?,
                    onLink: Bool = false) {
            (self.family, self.table, self.destination, self.gateway, self.interface, self.source, self.onLink)
                = (family, table, destination, gateway, interface, source, onLink)
        }
    }

    public init(mode: String = "off", tables: [String: Int] = [:], rules: [Rule] = [], routes: [Route] = [],
                reversePathFilter: [String: Int] = [:], notes: [String] = []) {
        self.mode = mode
        self.tables = tables
        self.rules = rules
        self.routes = routes
        self.reversePathFilter = reversePathFilter
        self.notes = notes
    }

    public var json: JSONValue {
        [
            "mode": .string(mode), "tables": .object(tables.mapValues { .integer(Int64($0)) }),
            "rules": .array(rules.map { r in
                var rule: [String: JSONValue] = [
                    "family": .string(r.family), "source": .string(r.source), "table": .integer(Int64(r.table)),
                    "priority": .integer(Int64(r.priority)), "interface": orNull(r.interface),
                ]
                if let length = r.suppressPrefixLength { rule["suppress_prefix_length"] = .integer(Int64(length)) }
                return .object(rule)
            }),
            "routes": .array(routes.map { r in
                ["family": .string(r.family), "table": .integer(Int64(r.table)), "destination": .string(r.destination),
                 "gateway": orNull(r.gateway), "interface": orNull(r.interface), "source": orNull(r.source),
                 "onlink": .bool(r.onLink)]
            }),
            "rp_filter": .object(reversePathFilter.mapValues { .integer(Int64($0)) }),
            "notes": .array(notes.map { .string($0) }),
        ]
    }

    public init(json: JSONValue) throws(RPCError) {
        let r = try RecordReader(json, "status.routing")
        func integers(_ key: String) throws(RPCError) -> [String: Int] {
            var out: [String: Int] = [:]
            for (k, v) in r.members[key]?.objectValue ?? [:] {
                guard let i = v.integerValue, let value = Int(exactly: i) else { throw r.wrong(key, "an object of integers") }
                out[k] = value
            }
            return out
        }
        var rules: [Rule] = []
        for item in try r.array("rules") {
            let m = try RecordReader(item, "status.routing.rules")
            rules.append(Rule(family: try m.string("family"), source: try m.string("source"), table: try m.integer("table"),
                              priority: try m.integer("priority"), interface: try m.optionalString("interface"),
                              suppressPrefixLength: try m.optionalInteger("suppress_prefix_length")))
        }
        var routes: [Route] = []
        for item in try r.array("routes") {
            let m = try RecordReader(item, "status.routing.routes")
            // Absent from a daemon older than on-link gateways: not on-link.
            let onLink = try m.members["onlink"].map { v throws(RPCError) -> Bool in
                guard let b = v.boolValue else { throw m.wrong("onlink", "a boolean") }
                return b
            } ?? false
            routes.append(Route(family: try m.string("family"), table: try m.integer("table"), destination: try m.string("destination"),
                                gateway: try m.optionalString("gateway"), interface: try m.optionalString("interface"),
                                source: try m.optionalString("source"), onLink: onLink))
        }
        self.init(mode: try r.string("mode"), tables: try integers("tables"), rules: rules, routes: routes,
                  reversePathFilter: try integers("rp_filter"), notes: try r.array("notes").compactMap(\.stringValue))
    }
}
