import Foundation
import MPTCPKit
import Testing

/// `mptcpctld` owns source routing (`[routing]`), against the real kernel: it
/// makes a rule per used address and a table per interface (marked `proto
/// 242`), a SIGKILL and restart makes no duplicate, and SIGTERM with
/// `on_exit = "remove"` leaves `ip rule`, the routes and rp_filter exactly as
/// they were; a foreign rule and table stay byte-for-byte the same. Read with
/// iproute2 and sysctl, independent of MPTCPKit. A 2-path lab: a1 active, a2 backup.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class RoutingDaemonKernelTests {
    let lab: Lab

    init() throws {
        lab = try Lab(paths: 2)
    }

    deinit { lab.close() }

    static func policy(onExit: String = "remove") -> String {
        """
        [daemon]
        state_directory = "@STATE@"
        resync_interval = 0
        [kernel]
        path_manager = "kernel"
        limits = { subflows = 8, add_addr_accepted = 8 }
        on_exit = "\(onExit)"
        [[interface]]
        name = "a1"
        role = "active"
        [[interface]]
        name = "a2"
        role = "backup"
        """
    }

    /// `ip -n CLIENT ARGS...`'s output.
    @discardableResult
    func ip(_ arguments: String...) throws -> String { try run("/usr/sbin/ip", ["-n", lab.client] + arguments).stdout }

    func rpFilter(_ name: String) throws -> String {
        try lab.exec(lab.client, ["cat", "/proc/sys/net/ipv4/conf/\(name)/rp_filter"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Every rule and route and the rp_filter values, as iproute2 and procfs
    /// show them; without the link-local (fe80::) entries, which the kernel adds
    /// when duplicate address detection ends, whenever that is.
    func routingState() throws -> String {
        func routes(_ arguments: String...) throws -> String {
            try run("/usr/sbin/ip", ["-n", lab.client] + arguments).stdout.split(separator: "\n").filter { !$0.contains("fe80::") }
                .joined(separator: "\n")
        }
        return try [ip("rule", "show"), ip("-6", "rule", "show"), routes("route", "show", "table", "all"),
                    routes("-6", "route", "show", "table", "all"),
                    "rp_filter a1=\(rpFilter("a1")) a2=\(rpFilter("a2")) all=\(rpFilter("all"))"].joined(separator: "\n---\n")
    }

    /// The lines only in `a` and only in `b`, for a failure message.
    func difference(_ a: String, _ b: String) -> String {
        let la = a.split(separator: "\n"), lb = b.split(separator: "\n")
        return "only before: \(la.filter { !lb.contains($0) })\nonly after: \(lb.filter { !la.contains($0) })"
    }

    /// The daemon's rules (`proto 242`), as `ip rule` lines.
    func ownRules() throws -> [String] {
        try (ip("rule", "show") + ip("-6", "rule", "show")).split(separator: "\n").map(String.init).filter { $0.hasSuffix("proto 242") }
    }

    /// The table of the daemon's rule from `address`.
    func table(from address: String) throws -> String? {
        try ownRules().first { $0.contains("from \(address) ") }?.split(separator: " ").drop { $0 != "lookup" }.dropFirst().first.map(String.init)
    }

    @Test func theDaemonMakesItsRulesAndTablesAdoptsThemAfterSIGKILLAndGivesBackExactlyWhatItFound() throws {
        // A strict rp_filter on a1, and a foreign rule and table.
        try lab.exec(lab.client, ["sysctl", "-qw", "net.ipv4.conf.a1.rp_filter=1"])
        try ip("rule", "add", "from", "10.0.1.1", "table", "300", "pref", "30000")
        try ip("route", "add", "192.0.2.0/24", "via", "10.0.1.2", "dev", "a1", "table", "300")
        let before = try routingState()
        let foreign = try (ip("rule", "show", "table", "300"), ip("route", "show", "table", "300"))

        let daemon = try Daemon(namespace: lab.client, policy: Self.policy())
        try daemon.waitUntil("four source rules and a suppress rule per family (proto 242)") { try ownRules().count == 4 + 2 }
        try daemon.waitConverged()
        let rules = try ownRules()
        for address in ["10.0.1.1", "10.0.2.1", "fd00:1::1", "fd00:2::1"] {
            #expect(try table(from: address) != nil, "a rule from \(address): \(rules)")
        }
        let t1 = try #require(try table(from: "10.0.1.1"))
        let t2 = try #require(try table(from: "10.0.2.1"))
        let t1v6 = try table(from: "fd00:1::1")
        #expect(t1 != t2 && t1v6 == t1, "one table per interface, the same number for both families")
        let table1 = try ip("route", "show", "table", t1), table1v6 = try ip("-6", "route", "show", "table", t1)
        let table2 = try ip("route", "show", "table", t2)
        #expect(table1.contains("default via 10.0.1.2 dev a1 proto 242"), "\(table1)")
        #expect(table1.contains("10.0.1.0/24 dev a1 proto 242 scope link src 10.0.1.1"), "\(table1)")
        #expect(table1v6.contains("default via fd00:1::2 dev a1 proto 242"), "\(table1v6)")
        #expect(table2.contains("default via 10.0.2.2 dev a2 proto 242"), "\(table2)")
        #expect(try rpFilter("a1") == "2", "strict set loose")
        let log = daemon.logLines
        #expect(log.contains { $0.level == "notice" && $0.message == "rp_filter on a1: 1 → 2 (loose), restored on exit" }, "\(daemon.log)")
        let priority = try ruleLinePriority("10.0.1.1")
        #expect(log.contains { $0.level == "notice" && $0.message == "source route: from 10.0.1.1 lookup \(t1) priority \(priority) (a1)" },
                "\(daemon.log)")
        let status = try lab.mptcpctl(lab.client, ["status", "--json"]).stdout
        #expect(status.contains("\"routing\"") && status.contains("\"a1\":\(t1)"), "\(status)")
        let statusText = try lab.mptcpctl(lab.client, ["status"]).stdout
        #expect(statusText.contains("table:") && statusText.contains("\(t1) (a1)"), "\(statusText)")
        #expect(statusText.contains("from 10.0.1.1 lookup \(t1) priority \(priority) (a1)"), "\(statusText)")
        #expect(statusText.contains("a1: set loose, was 1 (restored on exit)"), "\(statusText)")

        let made = try routingState()
        daemon.kill()
        let afterKill = try routingState()
        #expect(afterKill == made, "SIGKILL leaves the routing in place: \(difference(made, afterKill))")
        let again = try Daemon(namespace: lab.client, policy: Self.policy(), directory: daemon.directory)
        try again.waitRunning()
        try again.waitConverged()
        let adopted = try routingState()
        #expect(adopted == made, "adopted: no rule or route twice, nothing changed: \(difference(made, adopted))")
        #expect(again.lines("adopting source routing recorded by an earlier run").count == 1, "\(again.log)")
        #expect(again.stop() == 0)
        let after = try routingState()
        #expect(after == before, "on_exit = remove gives back exactly what was found: \(difference(before, after))")
        let foreignAfter = try (ip("rule", "show", "table", "300"), ip("route", "show", "table", "300"))
        #expect(foreignAfter == foreign, "the foreign rule and table are byte-for-byte the same")
    }

    /// The priority of the daemon's rule from `address`.
    private func ruleLinePriority(_ address: String) throws -> String {
        try ownRules().first { $0.contains("from \(address) ") }?.split(separator: ":").first.map(String.init) ?? "?"
    }

    @Test func onExitKeepLeavesTheRoutingAndModeOffMakesNone() throws {
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy(onExit: "keep"))
        try daemon.waitUntil("four source rules and a suppress rule per family (proto 242)") { try ownRules().count == 4 + 2 }
        try daemon.waitConverged()
        let made = try routingState()
        #expect(daemon.stop() == 0)
        let kept = try routingState()
        #expect(kept == made, "on_exit = keep leaves it: \(difference(made, kept))")
        // mode = "off" at the next start: what the earlier run made (recorded) is removed.
        let off = try Daemon(namespace: lab.client, policy: Self.policy() + "\n[routing]\nmode = \"off\"\n", directory: daemon.directory)
        try off.waitUntil("the daemon's rules gone") { try ownRules().isEmpty }
        try off.waitConverged()
        #expect(off.stop() == 0)
        #expect(try ownRules().isEmpty)
    }

    @Test func planShowsTheRoutingChangesWithTheirReasonsAndNamesAMissingGateway() throws {
        try lab.exec(lab.client, ["sysctl", "-qw", "net.ipv4.conf.a1.rp_filter=1"])
        // a2 loses its only gateway (the lab's table 102): no default route leaves by it anywhere.
        try ip("route", "del", "default", "table", "102")
        try ip("-6", "route", "del", "default", "table", "102")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mptcpctl-plan-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("p.toml").path
        try Self.policy().replacingOccurrences(of: "@STATE@", with: directory.path + "/state").write(toFile: file, atomically: true, encoding: .utf8)
        let before = try routingState()

        let text = try lab.mptcpctl(lab.client, ["plan", "--config", file], check: false)
        #expect(text.status == 2, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines.contains { $0.hasPrefix("add rule from 10.0.1.1 lookup ") && $0.contains("(a1) # a1 10.0.1.1: ") }, "\(text.stdout)")
        #expect(lines.contains { $0.hasPrefix("add route default via 10.0.1.2 dev a1 table ") && $0.contains(" # ") }, "\(text.stdout)")
        #expect(lines.contains { $0.hasPrefix("set rp_filter net.ipv4.conf.a1.rp_filter: 1 → 2 (loose) # ") }, "\(text.stdout)")
        #expect(lines.contains { $0.hasPrefix("note: a2 (IPv4): no gateway known") && $0.contains("interface[2].gateway") }, "\(text.stdout)")
        #expect(!lines.contains { $0.hasPrefix("add route default") && $0.contains("dev a2") }, "no default route for a2: \(text.stdout)")

        let json = try lab.mptcpctl(lab.client, ["plan", "--config", file, "--json"], check: false)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let changes = try #require(object["changes"] as? [[String: Any]])
        let rule = try #require(changes.first { $0["action"] as? String == "add_rule" && ($0["rule"] as? [String: Any])?["source"] as? String == "10.0.1.1" })
        #expect((rule["rule"] as? [String: Any])?["interface"] as? String == "a1" && (rule["reason"] as? String)?.isEmpty == false)
        #expect(changes.contains { $0["action"] as? String == "set_rp_filter" && $0["interface"] as? String == "a1" && $0["from"] as? String == "1" })
        let notes = try #require(object["routing_notes"] as? [[String: Any]])
        #expect(notes.contains { $0["interface"] as? String == "a2" && $0["family"] as? String == "ipv4" && $0["key"] as? String == "interface[2].gateway" })
        #expect(try routingState() == before, "plan changes nothing")
    }
}
