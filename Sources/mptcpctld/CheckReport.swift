import Foundation
import MPTCPAPI
import MPTCPPolicy

/// What `mptcpctld --check` (and so `mptcpctl check`) says about a policy
/// file: valid or not, how many blocks of each kind, warnings (valid but
/// without effect) and problems, as one line of text or one JSON object.
struct CheckReport {
    let file: String
    /// Nil when the file is invalid.
    let policy: Policy?
    let warnings: [PolicyDiagnostic]
    let problems: [PolicyDiagnostic]

    /// Every kind of block, with how many the file has, in the order the file format lists them.
    var counts: [(name: String, count: Int)] {
        guard let policy else { return [] }
        return [("interface", policy.interfaces.count), ("connection", policy.connections.count)]
    }

    /// `FILE: valid (2 [[interface]] blocks, 1 [[connection]] block)`.
    var text: String {
        let parts = counts.map { "\($0.count) [[\($0.name)]] block\($0.count == 1 ? "" : "s")" }
        return "\(file): valid (\(parts.joined(separator: ", ")))"
    }

    /// `{"file": …, "valid": …, "counts": {"interface": N, "connection": N},
    /// "warnings": [PROBLEM], "problems": [PROBLEM]}`, a PROBLEM being
    /// `{"file", "line" (null when unknown), "key" ("" for the whole file), "message"}`.
    var json: String {
        func entry(_ d: PolicyDiagnostic) -> JSONValue {
            .object([
                "file": .string(file), "line": d.line.map { .integer(Int64($0)) } ?? .null,
                "key": .string(d.key), "message": .string(d.message),
            ])
        }
        var object: [String: JSONValue] = [
            "file": .string(file), "valid": .bool(policy != nil),
            "warnings": .array(warnings.map(entry)), "problems": .array(problems.map(entry)),
        ]
        if policy != nil {
            object["counts"] = .object(Dictionary(uniqueKeysWithValues: counts.map { ($0.name, JSONValue.integer(Int64($0.count))) }))
        }
        return RPCWire.text(.object(object))
    }
}
