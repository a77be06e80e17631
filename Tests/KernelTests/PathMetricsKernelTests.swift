import Foundation
import MPTCPKit
import Testing

/// The exporter's per-path and kernel-counter series against a real transfer on
/// two paths (rate-limited, so the scheduler uses both): the daemon in the
/// client's namespace, its `metrics` scraped while the client sends.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class PathMetricsKernelTests {
    let lab: Lab

    init() throws {
        lab = try Lab(paths: 2, rateMbit: 40)
    }

    deinit { lab.close() }

    static let policy = """
        [daemon]
        state_directory = "@STATE@"
        resync_interval = 0
        [kernel]
        path_manager = "kernel"
        limits = { subflows = 8, add_addr_accepted = 8 }
        [metrics]
        per_connection = 1
        [[interface]]
        name = "a1"
        role = "active"
        families = ["ipv4"]
        [[interface]]
        name = "a2"
        role = "active"
        families = ["ipv4"]
        """

    /// `name{labels}` → value of every sample line, and the families with `# HELP`.
    func scrape() throws -> (samples: [String: Double], helped: Set<String>) {
        let text = try lab.mptcpctl(lab.client, ["metrics"]).stdout
        var samples: [String: Double] = [:]
        var helped: Set<String> = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# HELP ") { helped.insert(String(line.split(separator: " ")[2])); continue }
            if line.hasPrefix("#") { continue }
            let parts = line.split(separator: " ")
            if parts.count == 2 { samples[String(parts[0])] = Double(parts[1]) }
        }
        return (samples, helped)
    }

    static func path(_ family: String, _ interface: String, _ extra: String = "") -> String {
        "\(family){interface=\"\(interface)\",family=\"ipv4\"\(extra)}"
    }

    @Test func perPathByteCountersGrowOnEachInterfaceAndTheKernelsHandshakeCountersShowOnTheClientSide() throws {
        try lab.mptcpctl(lab.server, ["limits", "set", "--subflows", "8", "--add-addr-accepted", "8"])
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy)
        try daemon.waitRunning()
        try daemon.waitServing()
        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", "7611"])
        defer { server.stop() }
        _ = try server.wait(for: "listening")
        let client = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", "7611"])
        defer { client.stop() }
        _ = try client.wait(for: "connected")
        client.send("send 1000")  // the in-kernel PM opens subflows once data has flowed
        _ = try client.wait(for: "sent")
        let established = Self.path("mptcpctld_path_subflows", "a2", ",state=\"established\"")
        try daemon.waitUntil("a subflow joined on a2, as the metrics show", seconds: 60) {
            (try scrape().samples[established] ?? 0) >= 1
        }
        let before = try scrape().samples
        let acked = ["a1", "a2"].map { Self.path("mptcpctld_path_acked_bytes_total", $0) }
        var after = before
        var sentInAll = 1000.0
        try daemon.waitUntil("both paths' acknowledged bytes grew during the transfer", seconds: 120) {
            client.send("send 4000000")
            _ = try client.wait(for: "sent", seconds: 60)
            sentInAll += 4_000_000
            after = try scrape().samples
            return acked.allSatisfy { (after[$0] ?? 0) > (before[$0] ?? 0) }
        }
        // "sent" means written to the socket: wait for the peer's acknowledgements.
        try daemon.waitUntil("everything the client sent is acknowledged on the two paths", seconds: 60) {
            after = try scrape().samples
            return acked.map { after[$0] ?? 0 }.reduce(0, +) >= sentInAll
        }
        for interface in ["a1", "a2"] {
            let sent = after[Self.path("mptcpctld_path_sent_bytes_total", interface)] ?? 0
            let delivered = after[Self.path("mptcpctld_path_acked_bytes_total", interface)] ?? 0
            // tcpi_bytes_acked counts the SYN's sequence number too: one more than the data.
            #expect(sent + 1 >= delivered && delivered > 1_000, "\(interface): sent \(sent), acked \(delivered)")
            #expect(after[Self.path("mptcpctld_path_backup", interface)] == 0)
            #expect((after[Self.path("mptcpctld_path_subflows", interface, ",state=\"established\"")] ?? 0) >= 1)
            #expect((after[Self.path("mptcpctld_path_rtt_seconds", interface, ",stat=\"min\"")] ?? 0) > 0)
            #expect(after[Self.path("mptcpctld_path_retransmits_total", interface)] != nil)
        }

        // The client's side of the handshakes (the server's namespace sees the Rx ones of SYN and JOIN).
        let kernel = { (field: String) in after["mptcpctld_netstat_MPTcpExt_\(field)_total"] ?? -1 }
        #expect(kernel("MPCapableSYNTX") >= 1 && kernel("MPCapableSYNACKRX") >= 1)
        #expect(kernel("MPJoinSynTx") >= 1 && kernel("MPJoinSynAckRx") >= 1)
        #expect(kernel("MPCapableSYNRX") == 0 && kernel("MPJoinSynRx") == 0, "no connection was accepted on the client")
        #expect(after["mptcpctld_netstat_MPTcpExt_MPCurrEstab"] == 1)

        // One connection, within the cap of 1.
        let perConnection = after.filter { $0.key.hasPrefix("mptcpctld_connection_sent_bytes_total{") }
        #expect(perConnection.count == 1 && (perConnection.first?.value ?? 0) >= sentInAll, "\(perConnection)")
        #expect(try scrape().helped.isSuperset(of: ["mptcpctld_path_acked_bytes_total", "mptcpctld_netstat_MPTcpExt_MPJoinSynTx_total",
                                                   "mptcpctld_connection_sent_bytes_total"]))
        #expect(daemon.stop() == 0)
    }
}
