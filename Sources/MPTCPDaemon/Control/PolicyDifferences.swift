import MPTCPAPI
import MPTCPPolicy

/// The policy as JSON, keys in snake case (as `policy.show` returns it): the
/// wire encoding of MPTCPPolicy's `Policy`, kept out of the pure policy module.
func policyJSON(_ policy: Policy) throws -> JSONValue {
    try JSONValueEncoder(convertToSnakeCase: true).encode(policy)
}

/// What `new` changes from `old`, key by key, in a stable order (`policy.reload`'s
/// `changes`, the `reloaded` event's `changed_keys`).
func policyDifferences(from old: Policy, to new: Policy) -> [PolicyChangeRecord] {
    guard let a = try? policyJSON(old), let b = try? policyJSON(new) else { return [] }
    var changes: [PolicyChangeRecord] = []
    diff(a, b, key: "", into: &changes)
    return changes
}

private func diff(_ a: JSONValue?, _ b: JSONValue?, key: String, into changes: inout [PolicyChangeRecord]) {
    if a == b { return }
    switch (a, b) {
    case (.object(let x)?, .object(let y)?):
        for k in Set(x.keys).union(y.keys).sorted() {
            // The file's block names: [[interface]] and [[connection]], counted from 1.
            let name = key.isEmpty ? (k == "interfaces" ? "interface" : k == "connections" ? "connection" : k) : key + "." + k
            diff(x[k], y[k], key: name, into: &changes)
        }
    case (.array(let x)?, .array(let y)?) where key == "interface" || key == "connection":
        for i in 0..<max(x.count, y.count) {
            diff(i < x.count ? Optional(x[i]) : nil, i < y.count ? Optional(y[i]) : nil, key: "\(key)[\(i + 1)]", into: &changes)
        }
    case (.array(let x)?, .array(let y)?) where x.count == y.count && unordered(x) == unordered(y):
        // A list of names, families or ports means the same in any order (and a
        // Set's encoding has none).
        return
    default:
        changes.append(PolicyChangeRecord(key: key, old: a, new: b))
    }
}

private func unordered(_ values: [JSONValue]) -> [String] { values.map { RPCWire.text($0) }.sorted() }
