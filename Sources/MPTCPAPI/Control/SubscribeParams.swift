/// `subscribe`'s parameters: the kinds of events to stream (nil: all of them),
/// and whether to begin with the events the daemon published while it started
/// (`start_up`, before any client could subscribe).
public struct SubscribeParams: ControlParams {
    public static let names: Set<String> = ["kinds", "start_up"]
    public var kinds: [EventRecord.Kind]?
    public var startUp: Bool

    public init(kinds: [EventRecord.Kind]?, startUp: Bool = false) {
        self.kinds = kinds
        self.startUp = startUp
    }

    public init(_ p: RPCParams) throws(RPCError) {
        switch p.values["start_up"] {
        case nil, .null?: startUp = false
        case .bool(let b)?: startUp = b
        case let v?: throw .invalidParams("params.start_up: expected a boolean, not \(v.kind)")
        }
        guard let v = p.values["kinds"], v != .null else { kinds = nil; return }
        guard let list = v.arrayValue, !list.isEmpty else { throw .invalidParams("params.kinds: expected a non-empty array of strings") }
        var kinds: [EventRecord.Kind] = []
        for item in list {
            guard let name = item.stringValue, let kind = EventRecord.Kind(rawValue: name) else {
                throw .invalidParams("params.kinds: \(item) is not one of "
                    + EventRecord.Kind.allCases.map(\.rawValue).joined(separator: ", "))
            }
            if !kinds.contains(kind) { kinds.append(kind) }
        }
        self.kinds = kinds
    }

    public var params: [String: JSONValue] {
        var p: [String: JSONValue] = [:]
        if let kinds { p["kinds"] = .array(kinds.map { .string($0.rawValue) }) }
        if startUp { p["start_up"] = true }
        return p
    }
}
