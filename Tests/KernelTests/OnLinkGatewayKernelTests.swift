import Foundation
import MPTCPKit
import Testing

/// On a client set up as cloud images do it (an uplink with a /32 address and
/// `default via GW dev eth2 onlink`; `CloudHostLab`), `mptcpctld` with its routing
/// on puts `default via GW dev eth2 onlink` into eth2's table (the kernel refuses
/// that gateway without onlink: no connected route holds it), the kernel's route
/// lookup from the /32 address uses it, and a subflow from that address reaches
/// ESTABLISHED through a server that drops what arrives on the wrong interface.
/// Read with iproute2 and ss, independent of MPTCPKit.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
struct OnLinkGatewayKernelTests {
    static let port = 5301

    /// Waits until the daemon's rule from the /32 address is there; its table's default route, as `ip -j` shows it.
    func onLinkDefault(in lab: CloudHostLab, daemon: Daemon) throws -> (table: String, route: [String: Any]?) {
        var table: String?
        try daemon.waitUntil("a rule from \(CloudHostLab.uplink2) (the daemon's source routing)", seconds: 60) {
            table = try lab.table(from: CloudHostLab.uplink2)
            return table != nil
        }
        let t = try #require(table)
        return (t, try lab.json("route", "show", "table", t).first { ($0["dst"] as? String) == "default" })
    }

    /// The kernel's route for a packet from the /32 address to the service.
    func lookup(in lab: CloudHostLab) throws -> String {
        try lab.ip("route", "get", CloudHostLab.service.description, "from", CloudHostLab.uplink2.description)
    }

    /// Connects to the service and sends (the in-kernel path manager adds the subflow
    /// from eth2 once the connection is fully established, which takes data), and
    /// waits for that subflow's state to be ESTABLISHED; returns the sockets last seen.
    func subflowFromUplink2(in lab: CloudHostLab, daemon: Daemon) throws -> [SubflowSocket] {
        let sink = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", String(Self.port)])
        defer { sink.stop() }
        _ = try sink.wait(for: "listening")
        let client = try lab.peer(lab.client, ["client", "--connect", CloudHostLab.service.description, "--port", String(Self.port)])
        defer { client.stop() }
        _ = try client.wait(for: "connected")
        client.send("send 100000")
        _ = try client.wait(for: "sent", seconds: 60)
        var seen: [SubflowSocket] = []
        do {
            try daemon.waitUntil("a subflow from \(CloudHostLab.uplink2) in ESTABLISHED", seconds: 60) {
                seen = try SubflowSocket.read(namespace: lab.client, port: Self.port)
                return seen.contains { $0.local == CloudHostLab.uplink2 && $0.isEstablished }
            }
        } catch {
            Issue.record("subflows: \(seen)\n\(daemon.log)")
        }
        return seen
    }

    @Test func theSystemsOnLinkDefaultRouteIsCopiedOnLinkAndCarriesASubflowFromThe32Address() throws {
        let lab = try CloudHostLab()
        defer { lab.close() }
        // Without source routing a packet from the /32 leaves by eth1, where the server drops it.
        let unrouted = try lookup(in: lab)
        #expect(unrouted.contains("dev eth1"), "\(unrouted)")
        let before = try lab.routingState()

        let daemon = try lab.startDaemon()
        defer { _ = daemon.stop() }
        let (table, route) = try onLinkDefault(in: lab, daemon: daemon)
        let shown = try lab.ip("route", "show", "table", table)
        #expect(route?["gateway"] as? String == CloudHostLab.gateway2.description && route?["dev"] as? String == "eth2", "\(shown)")
        #expect((route?["flags"] as? [String])?.contains("onlink") == true, "\(shown)")
        #expect(route?["protocol"] as? String == "242")
        // A /32 has no connected route: the default route is all the table holds.
        #expect(try lab.json("route", "show", "table", table).count == 1, "\(shown)")
        let lookup = try lookup(in: lab)
        #expect(lookup.contains("via \(CloudHostLab.gateway2) dev eth2 table \(table)"), "\(lookup)")
        #expect(daemon.logLines.contains { $0.level == "notice" && $0.message == "route: default via 10.9.0.1 dev eth2 onlink table \(table)" },
                "\(daemon.log)")
        #expect(!daemon.logLines.contains { $0.message == "kernel refused a routing change" }, "\(daemon.log)")

        let status = try lab.mptcpctl(lab.client, ["status", "--json"]).stdout
        let routes = (((try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])?["routing"] as? [String: Any])?["routes"]
            as? [[String: Any]]) ?? []
        #expect(routes.contains { $0["interface"] as? String == "eth2" && $0["destination"] as? String == "default" && $0["onlink"] as? Bool == true },
                "\(status)")

        let sockets = try subflowFromUplink2(in: lab, daemon: daemon)
        #expect(sockets.contains { $0.local == CloudHostLab.uplink2 && $0.isEstablished }, "\(sockets)")
        #expect(sockets.contains { $0.local == CloudHostLab.uplink1 && $0.isEstablished }, "\(sockets)")

        #expect(daemon.stop() == 0)
        let after = try lab.routingState()
        #expect(after == before, "on_exit = remove gives back the routing found, the system's onlink route included")
    }

    @Test func aPolicyGatewayNoPrefixOfThe32HoldsGoesOnLinkAndCarriesTheSubflow() throws {
        // As variant (a): the system has no route via eth2; its admin names the gateway.
        let lab = try CloudHostLab(systemRoutesUplink2: false)
        defer { lab.close() }
        let daemon = try lab.startDaemon(eth2Gateway: CloudHostLab.gateway2)
        defer { _ = daemon.stop() }
        let (table, route) = try onLinkDefault(in: lab, daemon: daemon)
        let shown = try lab.ip("route", "show", "table", table)
        #expect(route?["gateway"] as? String == CloudHostLab.gateway2.description && route?["dev"] as? String == "eth2", "\(shown)")
        #expect((route?["flags"] as? [String])?.contains("onlink") == true, "\(shown)")
        let added = daemon.logLines.first { $0.message == "route: default via 10.9.0.1 dev eth2 onlink table \(table)" }
        #expect(added?["reason"]?.contains("gateway in interface[2] \"eth2\"; onlink, as no prefix on eth2 holds 10.9.0.1") == true,
                "\(daemon.log)")
        let lookup = try lookup(in: lab)
        #expect(lookup.contains("via \(CloudHostLab.gateway2) dev eth2 table \(table)"), "\(lookup)")
        let sockets = try subflowFromUplink2(in: lab, daemon: daemon)
        #expect(sockets.contains { $0.local == CloudHostLab.uplink2 && $0.isEstablished }, "\(sockets)")
    }
}
