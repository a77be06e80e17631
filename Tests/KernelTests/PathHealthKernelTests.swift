import Foundation
import MPTCPAPI
import MPTCPKit
import Testing

/// Path health on the realistic lab (variant (b): a default route per uplink),
/// against the real kernel: a path blackholed by a drop rule in its router
/// (links up) is `down` in `mptcpctl paths` with a `path_down` event carrying
/// the evidence, and `up` again once the rule is gone; ICMP filtered with a TCP
/// target configured is no false `down`; a path whose only target never
/// answers but carries a transfer stays `up`. States are waited for with
/// generous deadlines, never timed.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class PathHealthKernelTests {
    let lab: RealisticLab

    init() throws {
        lab = try RealisticLab(variant: .b)
    }

    deinit { lab.close() }

    /// The real-host policy (in-kernel PM) with `[probe] targets`.
    func startDaemon(targets: [String]) throws -> Daemon {
        let policy = RealHostPolicy(pathManager: .kernel).description
            + "\n[probe]\ntargets = [\(targets.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
        let daemon = try Daemon(namespace: lab.client, policy: policy)
        try daemon.waitRunning(seconds: 60)
        return daemon
    }

    /// Router `uplink` drops what its LAN side forwards that matches `match` (`""`: everything).
    func blackhole(uplink: Int, _ match: String = "") throws {
        try lab.exec(lab.router(uplink), ["nft", """
            add table inet healthtest; \
            add chain inet healthtest forward { type filter hook forward priority -10; }; \
            add rule inet healthtest forward iifname "lan" \(match) counter drop
            """])
    }

    func heal(uplink: Int) throws {
        try lab.exec(lab.router(uplink), ["nft", "delete", "table", "inet", "healthtest"])
    }

    /// `mptcpctl paths --json`'s record of `interface`/`family`.
    func path(_ interface: String, _ family: String = "ipv4") throws -> PathRecord? {
        let text = try lab.mptcpctl(lab.client, ["paths", "--json"]).stdout
        guard case .array(let items) = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            throw LabError("paths --json: not an array: \(text)")
        }
        return try items.map { try PathRecord(json: $0) }.first { $0.interface == interface && $0.family == family }
    }

    func waitState(_ daemon: Daemon, _ interface: String, _ state: String, seconds: Double = 60) throws {
        do {
            try daemon.waitUntil("\(interface)/ipv4 \(state) in mptcpctl paths", seconds: seconds) {
                try path(interface)?.state == state
            }
        } catch {
            let shown = try lab.mptcpctl(lab.client, ["paths"], check: false)
            throw LabError("\(error)\n\(shown.stdout)\(shown.stderr)\n\(daemon.log)")
        }
    }

    @Test func aBlackholedPathIsDownWithItsEvidenceAndUpAgainOnceItHeals() throws {
        let daemon = try startDaemon(targets: [RealisticLab.service().description])
        defer { daemon.stop() }
        try waitState(daemon, "eth1", "up")
        try waitState(daemon, "eth2", "up")
        let events = try daemon.subscribe([.health])

        try blackhole(uplink: 1)
        let down = try events.wait(seconds: 60, "path_down of eth1") { $0.type == "path_down" && $0.fields["interface"] == "eth1" }
        #expect(down.kind == .health && down.fields["family"] == "ipv4" && down.fields["from"] == "up" && down.fields["to"] == "down")
        guard case .string(let evidence)? = down.fields["evidence"] else {
            Issue.record("no evidence: \(down.text)")
            return
        }
        #expect(evidence.contains("lost in a row"), "\(evidence)")
        let shown = try path("eth1")
        #expect(shown?.state == "down" && shown?.lastTransition?.to == "down" && shown?.lastTransition?.evidence == evidence,
                "\(String(describing: shown))")
        #expect(try path("eth2")?.state == "up", "the other uplink is untouched")
        let status = try lab.mptcpctl(lab.client, ["status", "--json"]).stdout
        #expect(status.contains("\"down\":1") || status.contains("\"down\": 1"), "\(status)")

        try heal(uplink: 1)
        let up = try events.wait(seconds: 60, "path_up of eth1") { $0.type == "path_up" && $0.fields["interface"] == "eth1" }
        #expect(up.fields["from"] == "down" && up.fields["to"] == "up", "\(up.text)")
        #expect(try path("eth1")?.state == "up")
        #expect(!daemon.log.contains("\"level\":\"critical\""), "\(daemon.log)")
    }

    @Test func ICMPDroppedAtTheRouterWithATCPTargetConfiguredIsNoFalseDown() throws {
        let sink = try lab.sink(port: 7521)
        defer { sink.stop() }
        let service = RealisticLab.service().description
        try blackhole(uplink: 1, "meta l4proto { icmp, ipv6-icmp }")
        let daemon = try startDaemon(targets: [service, "\(service):7521"])
        defer { daemon.stop() }
        try waitState(daemon, "eth1", "up")
        let first = try path("eth1")
        #expect(first?.targets.contains { $0.target == "\(service):7521" && $0.answered } == true, "\(String(describing: first))")
        #expect(first?.targets.contains { $0.target == service && !$0.answered } == true, "ICMP never answers")
        // Many more probes, the ICMP ones all lost: still up, never down.
        let sent = first?.probesSent ?? 0
        try daemon.waitUntil("20 more probes on eth1", seconds: 60) { (try path("eth1")?.probesSent ?? 0) >= sent + 20 }
        let later = try path("eth1")
        #expect(later?.state == "up" && later?.lastTransition == nil, "\(String(describing: later))\n\(daemon.log)")
        #expect((later?.probesLost ?? 0) > 0, "the ICMP probes were lost")
    }

    @Test func aHealthThreadThatCannotStartIsLoggedAndTheDaemonRunsWithoutPathHealth() throws {
        let policy = RealHostPolicy(pathManager: .kernel).description
        let daemon = try Daemon(namespace: lab.client, policy: policy, environment: ["MPTCPCTLD_DEBUG_FAIL_HEALTH_THREAD": "1"])
        defer { daemon.stop() }
        try daemon.waitRunning(seconds: 60)
        try daemon.waitConverged(seconds: 60)
        #expect(daemon.log.contains("cannot start the path health thread"), "\(daemon.log)")
        let paths = try lab.mptcpctl(lab.client, ["paths"], check: false)
        #expect(paths.status != 0 && paths.stderr.contains("path health is not running"), "\(paths.stdout)\(paths.stderr)")
        let status = try lab.mptcpctl(lab.client, ["status", "--json"]).stdout
        #expect(!status.contains("\"paths\""), "\(status)")
    }

    @Test func aPathWhoseOnlyTargetNeverAnswersButCarriesATransferStaysUp() throws {
        let sink = try lab.sink(port: 7522)
        defer { sink.stop() }
        // On the server's link, but nobody has it: never answered.
        let daemon = try startDaemon(targets: ["10.3.0.99"])
        defer { daemon.stop() }
        try daemon.waitConverged(seconds: 60)
        let events = try daemon.subscribe([.health])
        var states: Set<String> = []
        _ = try BulkTransfer.run(in: lab, to: RealisticLab.service(), port: 7522, seconds: 8) { _ in
            if let state = try self.path("eth1")?.state { states.insert(state) }
            return try self.path("eth1")?.state == "up" && (try self.path("eth1")?.probesSent ?? 0) >= 10
        }
        let after = try path("eth1")
        #expect(states.contains("up") && !states.contains("down"), "\(states)")
        #expect(after?.state == "up" && after?.targets.allSatisfy { !$0.answered } == true && (after?.probesSent ?? 0) >= 10,
                "\(String(describing: after))\n\(daemon.log)")
        try events.poll()
        #expect(try events.all { $0.type == "path_down" }.isEmpty, "\(events.described)")
    }
}
