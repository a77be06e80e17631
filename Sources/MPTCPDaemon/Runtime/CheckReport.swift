import FoundationEssentials
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

    /// The hooks `[hooks] directory` holds now (what the daemon would run), nil when it does not exist.
    var hooks: [String]? {
        guard let directory = policy?.hooks.directory else { return nil }
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory else { return nil }
        return HookRunner.hooks(in: directory)
    }

    /// `FILE: valid (2 [[interface]] blocks, 1 [[connection]] block; 3 hooks in DIR)`.
    var text: String {
        let parts = counts.map { "\($0.count) [[\($0.name)]] block\($0.count == 1 ? "" : "s")" }
        let hooks = self.hooks.map { "; \($0.count) hook\($0.count == 1 ? "" : "s") in \(policy?.hooks.directory ?? "")" } ?? ""
        return "\(file): valid (\(parts.joined(separator: ", "))\(hooks))"
    }

    /// `{"file": …, "valid": …, "counts": {"interface": N, "connection": N, "hooks": N},
    /// "warnings": [PROBLEM], "problems": [PROBLEM]}`, a PROBLEM being
    /// `{"file", "line" (null when unknown), "key" ("" for the whole file), "message"}`.
    var json: String {
        var object: [String: JSONValue] = [
            "file": .string(file), "valid": .bool(policy != nil),
            "warnings": .array(warnings.map(entry)), "problems": .array(problems.map(entry)),
        ]
        if policy != nil {
            var members = Dictionary(uniqueKeysWithValues: counts.map { ($0.name, JSONValue.integer(Int64($0.count))) })
            members["hooks"] = .integer(Int64(hooks?.count ?? 0))
            object["counts"] = .object(members)
        }
        return RPCWire.text(.object(object))
    }

    /// The problems as `--check --json` lists them; also in the error object of an invalid policy.
    var problemsJSON: JSONValue { .array(problems.map(entry)) }

    /// One PROBLEM: `{"file", "line" (null when unknown), "key" ("" for the whole file), "message"}`.
    private func entry(_ d: PolicyDiagnostic) -> JSONValue {
        .object([
            "file": .string(file), "line": d.line.map { .integer(Int64($0)) } ?? .null,
            "key": .string(d.key), "message": .string(d.message),
        ])
    }
}
