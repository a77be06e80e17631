import Foundation
import MPTCPKit
import Testing

/// The shipped Grafana dashboard's model, without a kernel: every query goes
/// through the Prometheus data-source variable, and the panels the issue asks
/// for are there.
@Suite struct GrafanaDashboardModelTests {
    @Test func theShippedDashboardQueriesOnlyThroughItsPrometheusDataSourceVariable() throws {
        let dashboard = try GrafanaDashboard.shipped()
        #expect((dashboard.json["schemaVersion"] as? Int ?? 0) >= 36, "a current Grafana JSON model")
        let variable = dashboard.variables.first { $0["name"] as? String == "datasource" }
        #expect(variable?["type"] as? String == "datasource" && variable?["query"] as? String == "prometheus",
                "a `datasource` variable of type datasource, query prometheus: \(String(describing: variable))")
        for panel in dashboard.panels where panel["type"] as? String != "row" {
            #expect((panel["datasource"] as? [String: Any])?["uid"] as? String == "${datasource}", "\(panel["title"] ?? "?")")
        }
        #expect(!dashboard.targets.isEmpty)
        for target in dashboard.targets {
            #expect(target.datasourceUID == "${datasource}", "\(target)")
            #expect(target.expression.contains("mptcpctld_"), "queries the daemon's families: \(target)")
            if target.expression.contains("rate(") || target.expression.contains("increase(") {
                #expect(target.expression.contains("[$__rate_interval]"), "rate windows follow the scrape interval: \(target)")
            }
        }
        let queried = dashboard.targets.map(\.expression).joined(separator: "\n")
        for family in ["mptcpctld_path_acked_bytes_total", "mptcpctld_path_received_bytes_total", "mptcpctld_path_rtt_seconds",
                       "mptcpctld_path_retransmits_total", "mptcpctld_path_subflows", "mptcpctld_path_state",
                       "mptcpctld_pm_promotions_total", "mptcpctld_pm_handovers_total", "mptcpctld_path_transitions_total",
                       "mptcpctld_netstat_MPTcpExt_MPJoinSynRx_total", "mptcpctld_netstat_MPTcpExt_MPCapableFallbackACK_total"] {
            #expect(queried.contains(family), "a panel shows \(family)")
        }
        #expect(dashboard.panels.contains { $0["type"] as? String == "state-timeline" }, "the path health timeline")
    }
}

/// The dashboard against real parts: mptcpctld on the realistic lab's client
/// (two uplinks, in-kernel PM, path health probing the service), a real
/// Prometheus (Debian's package) in the same namespace scraping its /metrics
/// every second, and a bulk upload over both uplinks; uplink 2 blackholed
/// and healed for the health timeline. Nothing is timed: data is waited for
/// with generous deadlines, rates are compared over a window whose ends the
/// test records itself.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled && (Prometheus.isInstalled || KernelRequirement.required),
                             "needs the kernel lab and Debian's prometheus (make deps installs it)"))
final class PrometheusKernelTests {
    let lab: RealisticLab

    init() throws {
        lab = try RealisticLab(variant: .b)
    }

    deinit { lab.close() }

    /// The client's transmitted bytes per uplink (the interfaces' own counters) and when they were read.
    struct InterfaceReading {
        var time: Double
        var bytes: [String: Double]
    }

    func readInterfaces(_ interfaces: [String]) throws -> InterfaceReading {
        let before = Date().timeIntervalSince1970
        let text = try lab.exec(lab.client, ["cat"] + interfaces.map { "/sys/class/net/\($0)/statistics/tx_bytes" }).stdout
        let after = Date().timeIntervalSince1970
        let values = text.split(separator: "\n").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard values.count == interfaces.count else { throw LabError("tx_bytes of \(interfaces): \(text)") }
        return InterfaceReading(time: (before + after) / 2, bytes: Dictionary(uniqueKeysWithValues: zip(interfaces, values)))
    }

    /// `interface`'s byte counter at `time`, interpolated between the readings around it.
    static func bytes(_ interface: String, at time: Double, in readings: [InterfaceReading]) throws -> Double {
        guard let after = readings.firstIndex(where: { $0.time >= time }), after > 0 else {
            throw LabError("no readings around \(time): \(readings.first?.time ?? 0)…\(readings.last?.time ?? 0)")
        }
        let a = readings[after - 1], b = readings[after]
        let low = a.bytes[interface] ?? 0, high = b.bytes[interface] ?? 0
        return low + (high - low) * (time - a.time) / max(b.time - a.time, 1e-6)
    }

    @Test func everyDashboardPanelReturnsDataFromARealPrometheusAndThePerPathRateMatchesTheBytesMoved() throws {
        let dashboard = try GrafanaDashboard.shipped()
        let service = RealisticLab.service()
        let policy = RealHostPolicy(pathManager: .kernel).description
            + "\n[probe]\ntargets = [\"\(service)\"]\n\n[metrics]\nlisten = \"127.0.0.1:19466\"\n"
        let daemon = try Daemon(namespace: lab.client, policy: policy)
        defer { daemon.stop() }
        try daemon.waitRunning(seconds: 60)
        try daemon.waitConverged(seconds: 60)
        let prometheus = try Prometheus(namespace: lab.client, address: "127.0.0.1:19090", target: "127.0.0.1:19466")
        defer { prometheus.stop() }
        try prometheus.waitUntil("Prometheus scrapes mptcpctld's /metrics") {
            try prometheus.query("up{job=\"mptcpctld\"}").first?.value == 1
        }

        let sink = try lab.sink(port: 7931)
        defer { sink.stop() }
        let client = try lab.peer(lab.client, ["client", "--connect", service.description, "--port", "7931", "--seconds", "150"])
        defer { client.stop() }
        _ = try client.wait(for: "connected")
        let uplinks = [RealisticLab.interface(uplink: 1), RealisticLab.interface(uplink: 2)]
        try prometheus.waitUntil("established subflows on both uplinks in Prometheus") {
            let carrying = try prometheus.query("mptcpctld_path_subflows{state=\"established\",family=\"ipv4\"} > 0")
            return Set(carrying.compactMap { $0.labels["interface"] }).isSuperset(of: uplinks)
        }

        // The interfaces' counters over a window of the running transfer.
        let window = 20.0
        var readings = [try readInterfaces(uplinks)]
        let start = readings[0].time
        while let last = readings.last, last.time < start + window + 4 {
            guard client.process.isRunning else { throw LabError("the upload ended early") }
            Thread.sleep(forTimeInterval: 0.5)
            readings.append(try readInterfaces(uplinks))
        }
        let end = (readings.last?.time ?? start) - 1
        try prometheus.waitUntil("Prometheus scraped past the window's end") {
            (try prometheus.query("timestamp(up{job=\"mptcpctld\"})").first?.value ?? 0) >= end + 1
        }
        let sent = try #require(dashboard.targets.first { $0.expression.contains("mptcpctld_path_acked_bytes_total") },
                                "the dashboard's per-path sent rate")
        let shown = try prometheus.query(sent.promQL(rateInterval: "\(Int(window))s"), at: end)
        for uplink in uplinks {
            let moved = (try Self.bytes(uplink, at: end, in: readings) - Self.bytes(uplink, at: end - window, in: readings)) * 8 / window
            let dashboardRate = try #require(shown.first { $0.labels["interface"] == uplink && $0.labels["family"] == "ipv4" }?.value,
                                             "no \(uplink)/ipv4 series in \(shown)")
            print(String(format: "PROMETHEUS %@: dashboard %.2f Mbit/s, interface counters %.2f Mbit/s (%+.1f %%)", uplink,
                         dashboardRate / 1e6, moved / 1e6, moved > 0 ? (dashboardRate - moved) / moved * 100 : 0))
            #expect(moved > 1e6, "\(uplink) carried the upload: \(moved) bit/s")
            #expect(abs(dashboardRate - moved) <= 0.15 * moved,
                    "\(uplink): the dashboard shows \(dashboardRate) bit/s, its counters moved \(moved) bit/s")
        }

        // The health timeline has something to show only once a path changed
        // (unknown -> up is not reported): uplink 2's router drops what it
        // forwards until the path is down, then lets it through until it is up.
        let state = "mptcpctld_path_state{interface=\"\(uplinks[1])\",family=\"ipv4\"}"
        try lab.exec(lab.router(2), ["nft", """
            add table inet dashboardtest; \
            add chain inet dashboardtest forward { type filter hook forward priority -10; }; \
            add rule inet dashboardtest forward iifname "lan" counter drop
            """])
        try prometheus.waitUntil("\(uplinks[1]) down (2) in Prometheus") { try prometheus.query(state).first?.value == 2 }
        try lab.exec(lab.router(2), ["nft", "delete", "table", "inet", "dashboardtest"])
        try prometheus.waitUntil("\(uplinks[1]) up (0) again in Prometheus") { try prometheus.query(state).first?.value == 0 }

        // Every panel's every query answers with data.
        var missing = dashboard.targets
        let deadline = Date().addingTimeInterval(120)
        while !missing.isEmpty && Date() < deadline {
            missing = try missing.filter { try prometheus.query($0.promQL(rateInterval: "5s")).isEmpty }
            if !missing.isEmpty { Thread.sleep(forTimeInterval: 1) }
        }
        #expect(missing.isEmpty, "queries without data: \(missing.map(\.description).joined(separator: "\n"))\n\(daemon.log.suffix(4000))")
        #expect(prometheus.process.isRunning, "\(prometheus.log)")
        client.stop()
        #expect(daemon.stop() == 0)
    }
}
