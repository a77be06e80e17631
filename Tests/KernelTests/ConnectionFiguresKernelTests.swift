import Foundation
import MPTCPAPI
import MPTCPKit
import Testing

/// The figures of `mptcpctl connections` (`--json`, `-v`) and of the API's
/// `connections` against the real kernel: during a transfer over both uplinks of
/// the realistic lab (variant (b), the daemon's in-kernel PM making the eth2
/// subflow), each subflow's bytes acked (client) and received (server) grow, its
/// RTT is measured, and each connection has its mptcp_info object.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class ConnectionFiguresKernelTests {
    static let port: UInt16 = 7905
    let lab: RealisticLab

    init() throws {
        lab = try RealisticLab(variant: .b)
    }

    deinit { lab.close() }

    /// The first connection of a `connections` array (the CLI's `--json` or the API's result) that `matches`.
    static func connection(_ json: JSONValue, _ matches: (ConnectionRecord) -> Bool) throws -> ConnectionRecord? {
        try [ConnectionRecord](json: json).first(where: matches)
    }

    static func cliConnections(_ lab: RealisticLab, _ namespace: String) throws -> JSONValue {
        let text = try lab.mptcpctl(namespace, ["connections", "--json"]).stdout
        return try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    /// What grew between the first and a later reading: subflows (by 4-tuple: the server's share their local
    /// address and port) with a growing figure.
    final class Growth {
        var first: [String: UInt64] = [:]
        var grown: [String: SubflowRecord] = [:]
        func see(_ subflows: [SubflowRecord], _ figure: KeyPath<SubflowFigures, UInt64?>) {
            for s in subflows where s.state == "established" {
                guard let value = s.figures[keyPath: figure] else { continue }
                let key = "\(s.local)-\(s.remote)"
                if let before = first[key] {
                    if value > before { grown[key] = s }
                } else {
                    first[key] = value
                }
            }
        }
        /// The interfaces of the subflows that grew.
        var interfaces: Set<String> { Set(grown.values.compactMap(\.interface)) }
    }

    @Test func perSubflowBytesGrowOnBothPathsAndRTTIsMeasuredThroughTheCLIAndTheAPI() throws {
        let daemon = try lab.startDaemon(RealHostPolicy(pathManager: .kernel))
        defer { _ = daemon.stop() }
        let api = try ControlClient(daemon.socketPath)
        let sink = try lab.sink(port: Int(Self.port))
        defer { sink.stop() }
        let lab = self.lab
        let acked = Growth(), received = Growth(), viaAPI = Growth()
        var verbose = "", apiConnection: ConnectionRecord?
        let transfer = try BulkTransfer.run(in: lab, to: RealisticLab.service(), port: Int(Self.port), seconds: 10) { _ in
            if let c = try Self.connection(try Self.cliConnections(lab, lab.client), { $0.remote.port == Self.port }) {
                acked.see(c.subflows, \.bytesAcked)
            }
            if let c = try Self.connection(try Self.cliConnections(lab, lab.server), { $0.local.port == Self.port }) {
                received.see(c.subflows, \.bytesReceived)
            }
            if let c = try Self.connection(try api.result("connections"), { $0.remote.port == Self.port }) {
                viaAPI.see(c.subflows, \.bytesAcked)
                apiConnection = c
            }
            let both: Set<String> = ["eth1", "eth2"]
            guard acked.interfaces == both, viaAPI.interfaces == both, received.grown.count >= 2 else { return false }
            verbose = try lab.mptcpctl(lab.client, ["connections", "-v"]).stdout
            print("FIGURES mptcpctl connections:\n" + (try lab.mptcpctl(lab.client, ["connections"]).stdout)
                  + "FIGURES mptcpctl connections -v:\n" + verbose)
            return true
        }
        #expect(transfer.bytes > 0)
        #expect(acked.interfaces == ["eth1", "eth2"], "bytes_acked grew on both paths (mptcpctl --json): \(acked.grown)")
        #expect(received.grown.count >= 2, "bytes_received grew on the server's two subflows: \(received.grown)")
        #expect(viaAPI.interfaces == ["eth1", "eth2"], "bytes_acked grew on both paths (API): \(viaAPI.grown)")
        for s in acked.grown.values {
            #expect((s.figures.rttMicroseconds ?? 0) > 0, "\(s)")
            #expect((s.figures.congestionWindow ?? 0) > 0, "\(s)")
            // bytes_acked counts the SYN's (and a FIN's) sequence number, bytes_sent only data: one or two more.
            #expect((s.figures.bytesSent ?? 0) + 2 >= (s.figures.bytesAcked ?? 0), "\(s)")
            #expect(s.figures.totalRetransmits != nil && s.figures.deliveryRate != nil && s.figures.lastSendMilliseconds != nil,
                    "\(s)")
        }
        let mptcp = try #require(apiConnection?.mptcp, "the API's connection has its mptcp object")
        #expect((mptcp.bytesSent ?? 0) > 0 && (mptcp.subflows ?? 0) >= 1 && mptcp.fallback == false, "\(mptcp)")
        #expect(mptcp.sendUnacknowledged != nil && mptcp.subflowsTotal == mptcp.subflows.map { $0 + 1 }, "\(mptcp)")

        // -v: every figure of the JSON, named as there, for the connection and for each subflow.
        let lines = verbose.split(separator: "\n")
        let mptcpLine = try #require(lines.first { $0.hasPrefix("\tmptcp ") }, "\(verbose)")
        for key in ["subflows", "bytes_sent", "bytes_acked", "bytes_received", "bytes_retrans", "retransmits", "snd_una",
                    "rcv_nxt", "csum_enabled", "local_addr_used", "local_addr_max", "add_addr_signal", "add_addr_accepted"] {
            #expect(mptcpLine.contains(" \(key):"), "\(key) in \(mptcpLine)")
        }
        let figureLines = lines.filter { $0.hasPrefix("\t\trtt_us:") }
        #expect(figureLines.count >= 2, "\(verbose)")
        for line in figureLines {
            for key in ["rttvar_us", "cwnd", "bytes_sent", "bytes_acked", "bytes_received", "retransmits", "total_retransmits",
                        "delivery_rate", "pacing_rate", "last_send_ms", "last_receive_ms"] {
                #expect(line.contains(" \(key):"), "\(key) in \(line)")
            }
        }
        // The default table: the key figures' columns.
        let table = try lab.mptcpctl(lab.client, ["connections"]).stdout
        #expect(table.hasPrefix("TOKEN") && table.contains(" RTT ") && table.contains(" ACKED ") && table.contains(" RETRANS "),
                "\(table)")
    }
}
