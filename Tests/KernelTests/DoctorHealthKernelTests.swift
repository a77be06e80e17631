import Foundation
import MPTCPAPI
import MPTCPKit
import Testing

/// `mptcpctl doctor` beside a running mptcpctld that judges path health, on the
/// realistic lab (variant (b): uplink 1 holds main's default route), path 1
/// blackholed by a drop rule in its router: doctor shows the path `down` with
/// the daemon's evidence (`path.eth1.ipv4`), and what becomes of new
/// connections (`initial-path.ipv4`): sent to eth2 by the daemon's rule with
/// `[routing] mode = "on"`; with `"off"`, what the daemon would have done, as
/// its log says too. Healed, it is `ok` again and the initial-path check goes.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class DoctorHealthKernelTests {
    let lab: RealisticLab

    init() throws {
        lab = try RealisticLab(variant: .b)
    }

    deinit { lab.close() }

    func startDaemon(routingMode: String?) throws -> PathHealthWatch {
        var policy = RealHostPolicy(pathManager: .kernel)
        policy.routingMode = routingMode
        let daemon = try Daemon(namespace: lab.client, policy: policy.description
                                    + "\n[probe]\ntargets = [\"\(RealisticLab.service())\"]\n")
        try daemon.waitRunning(seconds: 60)
        try daemon.waitConverged(seconds: 60)
        let watch = PathHealthWatch(lab: lab, daemon: daemon)
        for uplink in [1, 2] { try watch.wait(RealisticLab.interface(uplink: uplink), "up") }
        return watch
    }

    /// `doctor --json`: its checks by id, and the whole output for messages.
    func doctor() throws -> (checks: [String: [String: Any]], output: String) {
        let result = try lab.mptcpctl(lab.client, ["doctor", "--json"], check: false)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        var byID: [String: [String: Any]] = [:]
        for check in object?["checks"] as? [[String: Any]] ?? [] { if let id = check["id"] as? String { byID[id] = check } }
        return (byID, result.stdout + result.stderr)
    }

    /// Blackholes path 1 and waits until the daemon judges it down.
    func blackholePath1(_ watch: PathHealthWatch) throws {
        try lab.addRouterDrop(uplink: 1, table: "doctortest")
        try watch.wait("eth1", "down")
    }

    @Test func doctorShowsABlackholedPathDownWithTheDaemonsEvidenceAndNewConnectionsSentToTheOtherPath() throws {
        let watch = try startDaemon(routingMode: nil)
        defer { watch.daemon.stop() }
        let (healthy, before) = try doctor()
        #expect(healthy["path.eth1.ipv4"]?["status"] as? String == "ok", "\(before)")
        #expect((healthy["path.eth1.ipv4"]?["summary"] as? String)?.hasPrefix("eth1/ipv4 up (RTT ") == true, "\(before)")
        #expect(healthy["initial-path.ipv4"] == nil, "\(before)")

        try blackholePath1(watch)
        try watch.waitUntil("the daemon's rule sends new connections to eth2's table") {
            try lab.clientRules().contains { $0["src"] as? String == "all" && $0["priority"] as? Int == 7399 }
        }
        let evidence = try watch.record("eth1")?.lastTransition?.evidence ?? "?"
        let (checks, output) = try doctor()
        let down = checks["path.eth1.ipv4"]
        #expect(down?["status"] as? String == "warn", "path 2 carries the connections: \(output)")
        #expect((down?["summary"] as? String)?.hasPrefix("eth1/ipv4 down") == true, "\(output)")
        #expect((down?["reason"] as? String)?.hasPrefix(evidence) == true, "the daemon's evidence (\(evidence)): \(output)")
        #expect((down?["reason"] as? String)?.contains("on_path_down = \"withdraw\") while eth2/ipv4 carries the connections") == true,
                "\(output)")
        #expect(checks["path.eth2.ipv4"]?["status"] as? String == "ok", "\(output)")
        let initial = checks["initial-path.ipv4"]
        #expect(initial?["status"] as? String == "info", "\(output)")
        #expect((initial?["summary"] as? String)?.contains("eth1/ipv4 holds main's default route and is down: mptcpctld sends new connections to table ") == true,
                "\(output)")
        let text = try lab.mptcpctl(lab.client, ["doctor"], check: false).stdout
        #expect(text.split(separator: "\n").contains { $0.hasPrefix("warn  ") && $0.contains("path.eth1.ipv4") && $0.contains("eth1/ipv4 down") },
                "\(text)")

        try lab.removeRouterDrop(uplink: 1, table: "doctortest")
        try watch.wait("eth1", "up")
        try watch.waitUntil("doctor: path 1 ok again, no initial-path check") {
            let (checks, _) = try doctor()
            return checks["path.eth1.ipv4"]?["status"] as? String == "ok" && checks["initial-path.ipv4"] == nil
        }
    }

    @Test func withRoutingOffDoctorAndTheLogSayWhatTheDaemonWouldHaveDoneForNewConnections() throws {
        let watch = try startDaemon(routingMode: "off")
        defer { watch.daemon.stop() }
        let rules = try lab.exec(lab.client, ["ip", "-4", "rule", "show"]).stdout
        try blackholePath1(watch)
        let would = "with mode = \"on\", new connections would start on eth2"
        try watch.waitUntil("the daemon's log says what it would have done") {
            watch.daemon.logLines.contains { $0.level == "warning" && $0.message.contains("eth1/ipv4 holds main's default route")
                && $0.message.contains(would) }
        }
        let (checks, output) = try doctor()
        let initial = checks["initial-path.ipv4"]
        #expect(initial?["status"] as? String == "warn", "\(output)")
        #expect(initial?["summary"] as? String == "eth1/ipv4 holds main's default route and is down: new connections start on it",
                "\(output)")
        let reason = initial?["reason"] as? String ?? ""
        #expect(reason.contains("[routing] mode = \"off\": mptcpctld changes no routing"), "\(output)")
        #expect(reason.contains("mptcpctld says: ") && reason.contains(would), "the daemon's note: \(output)")
        #expect((initial?["fix"] as? String)?.hasPrefix("set [routing] mode = \"on\" in mptcpctld's policy and run mptcpctl -n \(lab.client) reload") == true,
                "\(output)")
        #expect(checks["path.eth1.ipv4"]?["status"] as? String == "warn", "\(output)")
        #expect(try lab.exec(lab.client, ["ip", "-4", "rule", "show"]).stdout == rules, "mode = \"off\": no rule made")
    }
}
