import MPTCPKit
import TOMLKit

/// Parses and validates `mptcpctld.toml`. Pure: text in, policy or every
/// problem out.
///
/// Empty files: a file with no key at all (empty, only blank lines, only
/// comments, `/dev/null`) is a valid policy with every default, like any
/// file that leaves keys out.
public enum PolicyLoader {
    /// Decodes `text`; `offer`, when given, also checks the scheduler and the
    /// path manager against what the kernel offers.
    public static func load(_ text: String, file: String, offer: KernelOffer? = nil) throws(PolicyError) -> Policy {
        try check(text, file: file, offer: offer).policy
    }

    /// Decodes the file's bytes: as `check(_:file:offer:environment:)`, after
    /// refusing bytes that are not UTF-8. No bytes at all is the empty file.
    public static func check(bytes: [UInt8], file: String, offer: KernelOffer? = nil,
                             environment: PolicyEnvironment? = nil) throws(PolicyError) -> CheckedPolicy {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            // The line of the first byte that breaks UTF-8.
            var line = 1
            var parser = Unicode.UTF8.ForwardParser()
            var input = bytes.makeIterator()
            scan: while true {
                switch parser.parseScalar(from: &input) {
                case .valid(let scalar): if scalar.count == 1 && scalar.first == 0x0A { line += 1 }
                case .emptyInput, .error: break scan
                }
            }
            throw PolicyError(file: file, diagnostics: [PolicyDiagnostic(line: line, key: "", message: "not UTF-8 text")])
        }
        return try check(text, file: file, offer: offer, environment: environment)
    }

    /// Decodes and validates `text`, then asks `environment` (when given) what
    /// the system would refuse; returns the policy with its warnings, or every
    /// problem.
    public static func check(_ text: String, file: String, offer: KernelOffer? = nil,
                             environment: PolicyEnvironment? = nil) throws(PolicyError) -> CheckedPolicy {
        // TOML allows no control character but tab and the line ends, and no
        // non-ASCII character outside strings and comments; toml++ asserts on
        // some of them (found by fuzzing: a table name starting with U+0001, or
        // with U+FFFD, aborted the process), so they are refused before it sees them.
        if let bad = forbiddenCharacter(in: text) {
            throw PolicyError(file: file, diagnostics: [
                PolicyDiagnostic(line: bad.line, key: "", message: "TOML syntax: \(bad.message) (column \(bad.column))"),
            ])
        }
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw PolicyError(file: file, diagnostics: [
                PolicyDiagnostic(line: error.source.begin.line, key: "",
                                 message: "TOML syntax: \(error.description) (column \(error.source.begin.column))"),
            ])
        } catch {
            throw PolicyError(file: file, diagnostics: [PolicyDiagnostic(line: nil, key: "", message: "TOML syntax: \(error)")])
        }
        let lines = KeyLines(text)
        var reader = PolicyReader(lines: lines)
        let policy = reader.policy(root, offer: offer)
        for problem in environment?.problems(policy) ?? [] {
            reader.diagnostics.append(PolicyDiagnostic(line: problem.line ?? lines[problem.key], key: problem.key, message: problem.message))
        }
        guard reader.diagnostics.isEmpty else { throw PolicyError(file: file, diagnostics: inFileOrder(reader.diagnostics)) }
        return CheckedPolicy(policy: policy, warnings: inFileOrder(warnings(policy, lines: lines)))
    }

    /// What a valid policy says that has no effect.
    static func warnings(_ policy: Policy, lines: KeyLines) -> [PolicyDiagnostic] {
        var warnings: [PolicyDiagnostic] = []
        if !policy.connections.isEmpty && policy.kernel.pathManager != "userspace" {
            let pm = policy.kernel.pathManager.map { "path_manager = \"\($0)\"" } ?? "path_manager left at keep"
            let n = policy.connections.count
            warnings.append(PolicyDiagnostic(
                line: lines["connection[1]"], key: "connection[1]",
                message: "\(n == 1 ? "this [[connection]] block is" : "these \(n) [[connection]] blocks are") ignored with \(pm): "
                    + "[[connection]] blocks apply only when the daemon is the path manager (kernel.path_manager = \"userspace\")"))
        }
        if policy.kernel.pathManager != "userspace" {
            // The in-kernel path manager announces on the endpoint's own port and
            // opens no listener: the daemon's listeners are the userspace one's.
            let pm = policy.kernel.pathManager.map { "path_manager = \"\($0)\"" } ?? "path_manager left at keep"
            for rule in policy.interfaces where rule.announcePort != nil {
                let key = "interface[\(rule.position)].announce_port"
                warnings.append(PolicyDiagnostic(
                    line: lines[key], key: key,
                    message: "ignored with \(pm): announce_port applies only when the daemon is the path manager (kernel.path_manager = \"userspace\")"))
            }
        }
        return warnings
    }

    private static func inFileOrder(_ diagnostics: [PolicyDiagnostic]) -> [PolicyDiagnostic] {
        diagnostics.enumerated().sorted { a, b in
            (a.element.line ?? Int.max, a.offset) < (b.element.line ?? Int.max, b.offset)
        }.map(\.element)
    }
}
