import MPTCPAPI
@testable import MPTCPDaemon
import MPTCPKit
import Testing

@Suite struct TrafficMetricsTests {
    static func subflow(_ local: String, port: UInt16, interface: Int32, token: UInt32 = 7, state: TCPState = .established,
                        backup: Bool = false, sent: UInt64 = 0, acked: UInt64 = 0, received: UInt64 = 0,
                        retrans: UInt32 = 0, rttMicroseconds: UInt32? = nil) -> Subflow {
        var info = TCPInfo(state: state)
        info.bytesSent = sent
        info.bytesAcked = acked
        info.bytesReceived = received
        info.totalRetransmissions = retrans
        info.rttMicroseconds = rttMicroseconds
        let remote = IPAddress(local)?.isIPv4 == false ? "fd00::9" : "10.9.0.1"
        var s = Subflow(token: token, local: AddressAndPort(address: IPAddress(local)!, port: port),
                        remote: AddressAndPort(address: IPAddress(remote)!, port: 443), localID: 0, backup: backup,
                        interfaceIndex: interface, state: state)
        s.tcpInfo = info
        return s
    }

    static func connection(_ subflows: [Subflow], token: UInt32 = 7, remotePort: UInt16 = 443) -> Connection {
        Connection(token: token, side: .client, local: AddressAndPort(address: subflows[0].localAddress, port: 1),
                   remote: AddressAndPort(address: subflows[0].remoteAddress, port: remotePort), subflows: subflows)
    }

    /// Sample lines as `name{labels}` → value.
    static func samples(_ lines: [String]) -> [String: String] {
        var out: [String: String] = [:]
        for line in lines where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            out[String(parts[0])] = String(parts[1])
        }
        return out
    }

    static func names(_ key: PathTrafficKey) -> String { ["2": "eth1", "3": "eth2"]["\(key.interfaceIndex)"] ?? "?" }

    @Test func pathByteCountersAreRunningSumsThatNeverGoBackWhenASubflowCloses() {
        var ledger = PathTrafficLedger()
        ledger.record([Self.connection([Self.subflow("10.0.1.2", port: 1, interface: 2, sent: 100, acked: 90, received: 50),
                                        Self.subflow("10.0.2.2", port: 2, interface: 3, sent: 10, acked: 10, received: 5)])])
        ledger.record([Self.connection([Self.subflow("10.0.1.2", port: 1, interface: 2, sent: 400, acked: 390, received: 60, retrans: 3),
                                        Self.subflow("10.0.2.2", port: 2, interface: 3, sent: 30, acked: 30, received: 5)])])
        // eth2's subflow closed: its counters stay where they were.
        ledger.record([Self.connection([Self.subflow("10.0.1.2", port: 1, interface: 2, sent: 500, acked: 490, received: 60, retrans: 3)])])
        let s = Self.samples(ledger.lines([], label: Self.names))
        #expect(s["mptcpctld_path_sent_bytes_total{interface=\"eth1\",family=\"ipv4\"}"] == "500")
        #expect(s["mptcpctld_path_acked_bytes_total{interface=\"eth1\",family=\"ipv4\"}"] == "490")
        #expect(s["mptcpctld_path_received_bytes_total{interface=\"eth1\",family=\"ipv4\"}"] == "60")
        #expect(s["mptcpctld_path_retransmits_total{interface=\"eth1\",family=\"ipv4\"}"] == "3")
        #expect(s["mptcpctld_path_acked_bytes_total{interface=\"eth2\",family=\"ipv4\"}"] == "30")
        #expect(s["mptcpctld_path_subflows{interface=\"eth2\",family=\"ipv4\",state=\"established\"}"] == "0",
                "a path keeps its series once seen")
    }

    @Test func pathGaugesCountSubflowsByStateWithRTTAndBackupOfTheEstablishedOnes() {
        var ledger = PathTrafficLedger()
        let reading = [Self.connection([
            Self.subflow("10.0.1.2", port: 1, interface: 2, rttMicroseconds: 10_000),
            Self.subflow("10.0.1.2", port: 2, interface: 2, rttMicroseconds: 30_000),
            Self.subflow("10.0.1.2", port: 3, interface: 2, state: .synSent),
            Self.subflow("10.0.2.2", port: 4, interface: 3, backup: true, rttMicroseconds: 5_000),
            Self.subflow("10.0.2.2", port: 5, interface: 3, state: .finWait1),
            Self.subflow("10.0.2.2", port: 6, interface: 3, state: .close),
            Self.subflow("fd00::2", port: 7, interface: 3, state: .synSent),
        ])]
        ledger.record(reading)
        let s = Self.samples(ledger.lines(reading, label: Self.names))
        let eth1 = "interface=\"eth1\",family=\"ipv4\""
        let eth2 = "interface=\"eth2\",family=\"ipv4\""
        #expect(s["mptcpctld_path_subflows{\(eth1),state=\"established\"}"] == "2")
        #expect(s["mptcpctld_path_subflows{\(eth1),state=\"joining\"}"] == "1")
        #expect(s["mptcpctld_path_subflows{\(eth1),state=\"closing\"}"] == "0")
        #expect(s["mptcpctld_path_subflows{\(eth2),state=\"closing\"}"] == "1", "a closed subflow is not counted")
        #expect(s["mptcpctld_path_rtt_seconds{\(eth1),stat=\"min\"}"] == "0.01")
        #expect(s["mptcpctld_path_rtt_seconds{\(eth1),stat=\"mean\"}"] == "0.02")
        #expect(s["mptcpctld_path_rtt_seconds{\(eth1),stat=\"max\"}"] == "0.03")
        #expect(s["mptcpctld_path_backup{\(eth1)}"] == "0" && s["mptcpctld_path_backup{\(eth2)}"] == "1")
        let v6 = "interface=\"eth2\",family=\"ipv6\""
        #expect(s["mptcpctld_path_subflows{\(v6),state=\"joining\"}"] == "1")
        #expect(s["mptcpctld_path_backup{\(v6)}"] == "0", "no established subflow: not a backup path")
        #expect(s["mptcpctld_path_rtt_seconds{\(v6),stat=\"min\"}"] == nil, "no RTT without an established subflow")
    }

    @Test func withoutAReadingOnlyTheCountersAreShown() {
        var ledger = PathTrafficLedger()
        ledger.record([Self.connection([Self.subflow("10.0.1.2", port: 1, interface: 2, sent: 8, acked: 8)])])
        let lines = ledger.lines(nil, label: Self.names)
        #expect(Self.samples(lines)["mptcpctld_path_sent_bytes_total{interface=\"eth1\",family=\"ipv4\"}"] == "8")
        #expect(!lines.contains { $0.hasPrefix("mptcpctld_path_subflows") || $0.hasPrefix("mptcpctld_path_backup") })
    }

    @Test func perConnectionSeriesAreCappedToTheConnectionsThatMovedTheMostBytes() {
        var connections: [Connection] = []
        for i in 1...5 {
            let n = UInt64(i)
            let subflow = Self.subflow("10.0.1.2", port: UInt16(i), interface: 2, token: UInt32(i), sent: n * 100, received: n)
            connections.append(Self.connection([subflow], token: UInt32(i), remotePort: UInt16(8000 + i)))
        }
        #expect(ScrapeSeries.connections(connections, cap: 0).isEmpty, "none by default")
        let s = Self.samples(ScrapeSeries.connections(connections, cap: 2))
        #expect(s.count == 2 * DaemonMetrics.connectionFamilies.count)
        #expect(s["mptcpctld_connection_sent_bytes_total{token=\"00000005\",remote=\"10.9.0.1:8005\"}"] == "500")
        #expect(s["mptcpctld_connection_received_bytes_total{token=\"00000004\",remote=\"10.9.0.1:8004\"}"] == "4")
        #expect(s["mptcpctld_connection_subflows{token=\"00000004\",remote=\"10.9.0.1:8004\"}"] == "1")
        #expect(!s.keys.contains { $0.contains("00000003") })
    }

    @Test func everyKernelCounterIsExportedAndAnUnknownOneIsDeclaredWithAGenericHelp() throws {
        let counters = try MPTCPKernelCounters.parse("MPTcpExt: MPJoinSynRx MPCurrEstab NewThing\nMPTcpExt: 4 2 9\n")
        let k = ScrapeSeries.kernelCounters(counters)
        let s = Self.samples(k.lines)
        #expect(s == ["mptcpctld_netstat_MPTcpExt_MPJoinSynRx_total": "4", "mptcpctld_netstat_MPTcpExt_MPCurrEstab": "2",
                      "mptcpctld_netstat_MPTcpExt_NewThing_total": "9"])
        #expect(k.undeclared.map(\.name) == ["mptcpctld_netstat_MPTcpExt_NewThing_total"])
        let text = PrometheusText.normalised(k.lines.joined(separator: "\n"),
                                             families: DaemonMetrics.families(methods: []) + k.undeclared)
        #expect(text.contains("# HELP mptcpctld_netstat_MPTcpExt_NewThing_total The kernel's MPTcpExt NewThing"))
        #expect(text.contains("# TYPE mptcpctld_netstat_MPTcpExt_NewThing_total counter\nmptcpctld_netstat_MPTcpExt_NewThing_total 9\n"))
        #expect(text.contains("# TYPE mptcpctld_netstat_MPTcpExt_MPCurrEstab gauge\nmptcpctld_netstat_MPTcpExt_MPCurrEstab 2\n"))
        #expect(text.contains("mptcpctld_netstat_MPTcpExt_MPJoinSynRx_total 4\n"))
        #expect(text.contains("mptcpctld_netstat_MPTcpExt_WinProbe_total 0\n"), "a declared field exists from start-up")
        #expect(!text.contains("(undescribed)"))
    }

    @Test func aScrapeNamesPathsOnceAndKeepsTheLastKernelReadingWhenARereadFails() throws {
        let metrics = TrafficMetrics()
        var asked = 0
        let reading = [Self.connection([Self.subflow("10.0.1.2", port: 1, interface: 2, sent: 5, acked: 5)])]
        let counters = try MPTCPKernelCounters.parse("MPTcpExt: MPJoinSynRx\nMPTcpExt: 4\n")
        _ = metrics.scrape(reading, kernel: counters, perConnection: 0) { asked += 1; return [2: "eth1"] }
        let second = metrics.scrape(reading, kernel: nil, perConnection: 1) { asked += 1; return [:] }
        #expect(asked == 1, "names read only for an interface not named yet")
        let s = Self.samples(second.lines)
        #expect(s["mptcpctld_path_sent_bytes_total{interface=\"eth1\",family=\"ipv4\"}"] == "5")
        #expect(s["mptcpctld_netstat_MPTcpExt_MPJoinSynRx_total"] == "4")
        #expect(second.families.map(\.name) == DaemonMetrics.connectionFamilies.map(\.name))
    }
}
