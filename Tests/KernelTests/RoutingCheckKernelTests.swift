import Foundation
import Testing

/// `check` consults the running kernel's rules: a `[routing] priorities` range
/// holding a rule another program made is refused with its key and line, and
/// nothing in the namespace changes.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class RoutingCheckKernelTests {
    let lab: Lab

    init() throws {
        lab = try Lab(paths: 1)
    }

    deinit { lab.close() }

    func check(_ policy: String) throws -> CommandResult {
        let file = FileManager.default.temporaryDirectory
            .appendingPathComponent("routing-check-\(getpid())-\(UUID().uuidString.prefix(8)).toml").path
        try Data(policy.utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        var result = try run(Repository.mptcpctld, ["-n", lab.client, "--check", "--config", file], check: false)
        result.stderr = result.stderr.replacingOccurrences(of: file, with: "FILE")
        return result
    }

    @Test func aPriorityRangeHoldingAForeignRuleIsRefusedWithKeyAndLineAndNothingChanges() throws {
        try lab.exec(lab.client, ["ip", "rule", "add", "from", "192.0.2.7", "lookup", "100", "priority", "7305"])
        let before = try lab.exec(lab.client, ["ip", "rule", "show"]).stdout
        let policy = "[[interface]]\nname = \"a1\"\nrole = \"active\"\n\n[routing]\npriorities = \"7300-7399\"\n"
        let refused = try check(policy)
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.contains(
            "FILE:6: routing.priorities: \"7300-7399\" holds rules mptcpctld did not make (priority 7305, table 100)"), "\(refused.stderr)")
        #expect(try lab.exec(lab.client, ["ip", "rule", "show"]).stdout == before)
        // The default range is checked too (without a line: the key is not in the file).
        let defaulted = try check("[[interface]]\nname = \"a1\"\nrole = \"active\"\n")
        #expect(defaulted.status == 1 && defaulted.stderr.contains("FILE: routing.priorities: \"7300-7399\" holds rules"), "\(defaulted)")
        // A range clear of it passes.
        let clear = try check(policy.replacingOccurrences(of: "7300-7399", with: "7400-7499"))
        #expect(clear.status == 0, "\(clear)")
    }
}
