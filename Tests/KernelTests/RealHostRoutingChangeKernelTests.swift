import Foundation
import MPTCPKit
import Testing

/// The daemon's source routing on the realistic lab beyond the IPv4 start-up case:
/// IPv6 through a link-local and a global gateway, and an uplink that renews to
/// another address and gateway under a live connection.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
struct RealHostRoutingChangeKernelTests {
    static let port = 5202

    @Test("IPv6 on (a): with the gateway key, the second uplink's subflow is established and the paths aggregate",
          arguments: RealHostPolicy.PathManager.allCases)
    func ipv6OnVariantAAggregates(pathManager: RealHostPolicy.PathManager) throws {
        let lab = try RealisticLab(variant: .a)
        defer { lab.close() }
        let sink = try lab.sink(port: Self.port)
        defer { sink.stop() }
        let service = RealisticLab.service(v6: true)
        let single = try BulkTransfer.run(in: lab, to: service, port: Self.port)

        let daemon = try lab.startDaemon(try RealHostRoutingKernelTests.policy(pathManager, on: lab))
        defer { daemon.stop() }
        let eth1 = try lab.clientAddress(uplink: 1, v6: true), eth2 = try lab.clientAddress(uplink: 2, v6: true)
        try daemon.waitUntil("a rule from \(eth2)", seconds: 60) { try lab.hasRule(from: eth2) }

        let multi = try BulkTransfer.run(in: lab, to: service, port: Self.port)
        let second = multi.subflows(from: eth2)
        reportMeasurement("variant (a) IPv6, \(pathManager), routing on", single: single, multi: multi, second: second)
        #expect(second.contains { $0.isEstablished && $0.bytesAcked > 1_000_000 }, "\(multi)\n\(daemon.log)")
        #expect(multi.subflows(from: eth1).contains { $0.isEstablished && $0.bytesAcked > 1_000_000 }, "\(multi)")
        #expect(multi.mbitPerSecond >= 1.8 * single.mbitPerSecond, "one path: \(single)\nboth: \(multi)")
    }

    /// On (c) with `rp_filter = "keep"` only the daemon's rules let a reply to the
    /// second uplink through the client's strict rp_filter: after the renew the
    /// rule must follow the new address and the table the new gateway.
    @Test("an uplink renewing to another address and gateway: the rules follow and the connection regains its second subflow",
          arguments: RealHostPolicy.PathManager.allCases)
    func renewKeepsTheSecondSubflow(pathManager: RealHostPolicy.PathManager) throws {
        let lab = try RealisticLab(variant: .c)
        defer { lab.close() }
        let sink = try lab.sink(port: Self.port)
        defer { sink.stop() }
        var policy = RealHostPolicy(pathManager: pathManager)
        policy.reversePathFilter = "keep"
        let daemon = try lab.startDaemon(policy)
        defer { daemon.stop() }
        let before = try lab.clientAddress(uplink: 2)
        try daemon.waitUntil("a rule from \(before)", seconds: 60) { try lab.hasRule(from: before) }

        let holder = try lab.peer(lab.client, ["client", "--connect", RealisticLab.service().description, "--port", String(Self.port)])
        defer { holder.stop() }
        _ = try holder.wait(for: "connected", seconds: 30)
        // Subflows are added once the connection is fully established: the server has acked data.
        holder.send("send 100000")
        _ = try holder.wait(for: "sent", seconds: 60)
        try daemon.waitUntil("an established subflow from \(before)", seconds: 60) {
            try lab.subflows(port: Self.port).contains { $0.local == before && $0.isEstablished }
        }

        try lab.renew()
        let after = try lab.clientAddress(uplink: 2)
        try daemon.waitUntil("the rule from \(before) replaced by one from \(after)", seconds: 60) {
            try lab.hasRule(from: after) && !lab.hasRule(from: before)
        }
        let gateway = try lab.gateway(uplink: 2)
        let tables = try lab.exec(lab.client, ["ip", "route", "show", "table", "all", "default", "dev", "eth2"]).stdout
        #expect(tables.contains("via \(gateway)") && tables.contains("table"), "no default route via \(gateway) in a table:\n\(tables)")
        try daemon.waitUntil("an established subflow from \(after)", seconds: 90) {
            try lab.subflows(port: Self.port).contains { $0.local == after && $0.isEstablished }
        }
        // It carries data: 20 MB through both uplinks, then bytes acked on the new subflow.
        holder.send("send 20000000")
        _ = try holder.wait(for: "sent", seconds: 120)
        try daemon.waitUntil("bytes acked on the subflow from \(after)", seconds: 60) {
            try lab.subflows(port: Self.port).contains { $0.local == after && $0.isEstablished && $0.bytesAcked > 0 }
        }
        let rpFilter = try lab.exec(lab.client, ["sysctl", "-n", "net.ipv4.conf.eth2.rp_filter"]).stdout
        #expect(rpFilter.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "rp_filter = \"keep\" changed eth2's rp_filter")
    }
}
