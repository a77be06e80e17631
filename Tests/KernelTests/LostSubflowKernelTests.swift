import Foundation
import MPTCPKit
import Testing

/// A subflow the peer resets for a cause is never opened again by the in-kernel
/// path manager; the daemon (kernel mode) says so. On the realistic lab
/// (variant (b)) router 2 is a middlebox that rewrites four bytes of every data
/// segment from the client's eth2, and the client asks for MPTCP checksums: the
/// server's receiver finds the DSS checksum wrong on the join and resets it with
/// MP_TCPRST "middlebox interference". (Linux 6.18 resets a join the same way,
/// "MPTCP-specific error", when its receiver finds two mappings over the same
/// bytes; that one cannot be made on demand.)
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class LostSubflowKernelTests {
    let lab: RealisticLab

    init() throws {
        lab = try RealisticLab(variant: .b)
    }

    deinit { lab.close() }

    static let warning = "the peer reset a subflow and the in-kernel path manager will not open it again: the connection runs without this path"

    @Test func aJoinThePeerResetIsReportedOnceCountedAndNotOpenedAgain() throws {
        let port = 7561
        let path1 = try lab.clientAddress(uplink: 1), path2 = try lab.clientAddress(uplink: 2)
        try lab.exec(lab.client, ["sysctl", "-qw", "net.mptcp.checksum_enabled=1"])
        let sink = try lab.sink(port: port)
        defer { sink.stop() }
        let daemon = try Daemon(namespace: lab.client, policy: RealHostPolicy(pathManager: .kernel).description)
        defer { daemon.stop() }
        try daemon.waitRunning(seconds: 60)
        try daemon.waitUntil("an endpoint for eth2", seconds: 60) { try daemon.endpoints().contains { $0.address == path2.description } }
        try lab.exec(lab.router(2), ["nft", """
            add table ip lostsubflowtest; \
            add chain ip lostsubflowtest forward { type filter hook forward priority 0; }; \
            add rule ip lostsubflowtest forward ip saddr \(path2) tcp dport \(port) meta length > 400 @th,1600,32 set 0x41414141
            """])

        let client = try lab.peer(lab.client, ["client", "--connect", RealisticLab.service().description,
                                               "--port", String(port), "--seconds", "30"])
        defer { client.stop() }
        try daemon.waitUntil("the daemon's warning", seconds: 30) { !daemon.lines(Self.warning).isEmpty }
        let line = try #require(daemon.lines(Self.warning).first)
        #expect(line.level == "warning", "\(line)")
        #expect(line["reason"] == "middlebox interference (6)", "\(line)")
        #expect(line["local"]?.hasPrefix("\(path2):") == true && line["remote"] == "\(RealisticLab.service()):\(port)", "\(line)")
        let metrics = try lab.mptcpctl(lab.client, ["metrics"]).stdout
        #expect(metrics.contains("mptcpctld_subflows_reset_by_peer_total{reason=\"middlebox_interference\"} 1"), "\(metrics)")

        // The upload goes on over path 1, and the join is not opened again (3 s later).
        let acked = { (s: [SubflowSocket]) in s.filter { $0.local == path1 && $0.isEstablished }.map(\.bytesAcked).reduce(0, +) }
        let before = acked(try lab.subflows(port: port))
        try daemon.waitUntil("path 1 acks more of the upload", seconds: 30) { acked(try lab.subflows(port: port)) > before }
        Thread.sleep(forTimeInterval: 3)
        let after = try lab.subflows(port: port)
        #expect(!after.contains { $0.local == path2 }, "no subflow from eth2 again: \(after)")
        #expect(daemon.lines(Self.warning).count == 1, "one connection, one loss: \(daemon.log)")
    }
}
