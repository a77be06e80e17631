/// `subscribe`'s parameters: the kinds of events to stream (nil: all of them).
public struct SubscribeParams: ControlParams {
    public static let names: Set<String> = ["kinds"]
    public var kinds: [EventRecord.Kind]?

    public init(kinds: [EventRecord.Kind]?) { self.kinds = kinds }

    public init(_ p: RPCParams) throws(RPCError) {
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
        guard let kinds else { return [:] }
        return ["kinds": .array(kinds.map { .string($0.rawValue) })]
    }
}
