import Foundation
import MPTCPKit
import Testing

/// `mptcpctl doctor` against real namespaces: a healthy client passes; MPTCP
/// turned off, and a strict reverse-path filter without source routing, each
/// fail the right check with the right fix.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class DoctorKernelTests {
    let lab: Lab

    init() throws {
        lab = try Lab(paths: 2)
        try lab.mptcpctl(lab.client, ["limits", "set", "--subflows", "2", "--add-addr-accepted", "2"])
    }

    deinit { lab.close() }

    /// `doctor --json ARGS` in the client: its exit status and checks by id.
    func doctor(_ arguments: [String] = []) throws -> (status: Int32, checks: [String: [String: Any]], output: String) {
        let result = try lab.mptcpctl(lab.client, ["doctor", "--json"] + arguments, check: false)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let list = object?["checks"] as? [[String: Any]] ?? []
        var byID: [String: [String: Any]] = [:]
        for check in list { if let id = check["id"] as? String { byID[id] = check } }
        return (result.status, byID, result.stdout + result.stderr)
    }

    /// The client without its per-path source routing for path 2 (as a host whose
    /// distribution made one default route leaves it).
    func removeSourceRoutingOfPath2() throws {
        try lab.exec(lab.client, ["ip", "rule", "del", "from", "10.0.2.1", "table", "102"])
    }

    @Test func aHealthyNamespacePassesEveryCheck() throws {
        try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.2.1", "--dev", "a2", "--subflow"])
        let before = try lab.mptcpctl(lab.client, ["endpoint", "--json"]).stdout
        let (status, checks, output) = try doctor()
        #expect(status == 0, "\(output)")
        #expect(try lab.mptcpctl(lab.client, ["endpoint", "--json"]).stdout == before,
                "the capability probes ran in a throw-away namespace, never on the user's endpoints")
        #expect(try lab.mptcpctl(lab.client, ["path-manager"]).stdout.hasPrefix("kernel "), "the path manager is left as it was")
        #expect(checks.values.allSatisfy { $0["status"] as? String != "fail" }, "\(output)")
        #expect(checks["mptcp.enabled"]?["status"] as? String == "ok")
        #expect(checks["route.10.0.2.1"]?["status"] as? String == "ok", "\(output)")
        #expect(checks["daemon"]?["status"] as? String == "info", "no daemon is information: \(output)")
        #expect(checks["kernel.capabilities"]?["status"] as? String == "ok", "\(output)")
        let text = try lab.mptcpctl(lab.client, ["doctor"], check: false)
        #expect(text.status == 0)
        #expect(text.stdout.split(separator: "\n").contains { $0.hasPrefix("ok    mptcp.enabled") }, "\(text.stdout)")
    }

    @Test func mptcpTurnedOffFailsTheEnabledCheckWithTheSysctlThatFixesIt() throws {
        try lab.exec(lab.client, ["sysctl", "-qw", "net.mptcp.enabled=0"])
        let (status, checks, output) = try doctor()
        #expect(status == 1, "\(output)")
        #expect(checks["mptcp.enabled"]?["status"] as? String == "fail", "\(output)")
        #expect(checks["mptcp.enabled"]?["fix"] as? String == "ip netns exec \(lab.client) sysctl -w net.mptcp.enabled=1")
        let text = try lab.mptcpctl(lab.client, ["doctor"], check: false)
        #expect(text.status == 1)
        #expect(text.stdout.contains("fix: ip netns exec \(lab.client) sysctl -w net.mptcp.enabled=1"), "\(text.stdout)")
    }

    @Test func aStrictReversePathFilterWithoutSourceRoutingFailsTheRoutingChecks() throws {
        try removeSourceRoutingOfPath2()
        try lab.exec(lab.client, ["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1"])
        try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.2.1", "--subflow"])
        let (status, checks, output) = try doctor()
        #expect(status == 1, "\(output)")
        let route = checks["route.10.0.2.1"]
        #expect(route?["status"] as? String == "fail", "\(output)")
        #expect(route?["reason"] as? String == "subflows from 10.0.2.1 leave by a1, not a2: strict routers drop them")
        let fix = route?["fix"] as? String ?? ""
        #expect(fix.contains("ip -n \(lab.client) rule add from 10.0.2.1 lookup "), "\(fix)")
        #expect(fix.contains("route add default via 10.0.2.2 dev a2 table "), "the gateway comes from the lab's table 102: \(fix)")
        let filter = checks["rp_filter.10.0.2.1"]
        #expect(filter?["status"] as? String == "fail", "\(output)")
        #expect((filter?["fix"] as? String)?.hasPrefix("ip netns exec \(lab.client) sysctl -w net.ipv4.conf.a2.rp_filter=2") == true)
        #expect(checks["rp_filter.10.0.1.1"] == nil, "10.0.1.1 is no endpoint")
    }

    @Test func aServerWhoseSubflowsLimitIsZeroRejectsEveryJoinAndDoctorFailsItsLimitsWhenItAnnouncesAddresses() throws {
        try lab.mptcpctl(lab.server, ["limits", "set", "--subflows", "0", "--add-addr-accepted", "0"])
        try lab.mptcpctl(lab.server, ["endpoint", "add", "10.0.2.2", "--dev", "b2", "--signal"])
        try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.2.1", "--dev", "a2", "--subflow"])
        let sink = try lab.peer(lab.server, ["server", "--bind", "::", "--port", "7840"])
        defer { sink.stop() }
        _ = try sink.wait(for: "listening")
        let server = try lab.mptcpctl(lab.server, ["doctor", "--json"], check: false)
        #expect(server.status == 1, "\(server.stdout)")
        #expect(server.stdout.contains("rejects every join"), "\(server.stdout)")
        // The kernel's side of it: the client's join from 10.0.2.1 is refused while the server's limit is 0.
        let (_, refused, output) = try doctor(["--peer", "10.0.1.2:7840", "--timeout", "3"])
        #expect(refused["peer.mptcp"]?["status"] as? String == "ok", "\(output)")
        #expect(refused["peer.subflow.10.0.2.1"]?["status"] as? String == "warn", "no subflow from 10.0.2.1: \(output)")
        #expect((refused["peer.subflow.10.0.2.1"]?["reason"] as? String)?.contains("refused the join") == true, "\(output)")
        try lab.mptcpctl(lab.server, ["limits", "set", "--subflows", "2"])
        let fixed = try lab.mptcpctl(lab.server, ["doctor", "--json"], check: false)
        #expect(!fixed.stdout.contains("rejects every join"), "\(fixed.stdout)")
        let (_, joined, after) = try doctor(["--peer", "10.0.1.2:7840", "--timeout", "10"])
        #expect(joined["peer.subflow.10.0.2.1"]?["status"] as? String == "ok", "\(after)")
    }

    /// The link-local address of `interface` in `namespace`, once duplicate address detection is over.
    func linkLocalAddress(_ namespace: String, _ interface: String) throws -> String {
        let deadline = Date().addingTimeInterval(30)
        while true {
            let json = try lab.exec(namespace, ["ip", "-6", "-j", "addr", "show", "dev", interface, "scope", "link"]).stdout
            let links = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] ?? []
            let info = links.flatMap { $0["addr_info"] as? [[String: Any]] ?? [] }
            // `ip -j` lists the filtered-out addresses as empty objects.
            if let address = info.first(where: { $0["local"] != nil && $0["tentative"] == nil })?["local"] as? String { return address }
            guard Date() < deadline else { throw LabError("\(interface) in \(namespace) has no usable link-local address: \(json)") }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    @Test func aLinkLocalPeerIsReachedOnTheLinkItsZoneNamesAndWithoutAZoneIsRefusedAsUsage() throws {
        let server = try linkLocalAddress(lab.server, "b1")
        _ = try linkLocalAddress(lab.client, "a1")
        let sink = try lab.peer(lab.server, ["server", "--bind", "::", "--port", "7830"])
        defer { sink.stop() }
        _ = try sink.wait(for: "listening")
        let (_, checks, output) = try doctor(["--peer", "[\(server)%a1]:7830", "--timeout", "4"])
        #expect(checks["peer.connect"] == nil, "the connection was made: \(output)")
        #expect(checks["peer.mptcp"]?["status"] as? String == "ok", "\(output)")
        let zoneless = try lab.mptcpctl(lab.client, ["doctor", "--peer", "\(server)"], check: false)
        #expect(zoneless.status == 64, "\(zoneless.stdout)\(zoneless.stderr)")
        #expect(zoneless.stderr.contains("is link-local") && zoneless.stderr.contains("%IFACE"), "\(zoneless.stderr)")
        let unknown = try lab.mptcpctl(lab.client, ["doctor", "--peer", "\(server)%nosuch0"], check: false)
        #expect(unknown.status == 64, "\(unknown.stderr)")
        #expect(unknown.stderr.contains("no interface nosuch0"), "\(unknown.stderr)")
    }
}

/// `mptcpctl doctor` on the realistic lab's variant (a), the client's routing as
/// ifupdown with one gateway leaves it (one default route, through uplink 1) and
/// routers that drop packets whose source is not on their side.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class DoctorRealisticKernelTests {
    let lab: RealisticLab

    init() throws {
        lab = try RealisticLab(variant: .a, rateMbit: 0)
        try lab.mptcpctl(lab.client, ["limits", "set", "--subflows", "2", "--add-addr-accepted", "2"])
    }

    deinit { lab.close() }

    func doctor(_ arguments: [String]) throws -> (status: Int32, checks: [String: [String: Any]], output: String) {
        let result = try lab.mptcpctl(lab.client, ["doctor", "--json"] + arguments, check: false)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        var byID: [String: [String: Any]] = [:]
        for check in object?["checks"] as? [[String: Any]] ?? [] { if let id = check["id"] as? String { byID[id] = check } }
        return (result.status, byID, result.stdout + result.stderr)
    }

    @Test func withAPeerItReportsMPTCPNegotiatedAndTheSecondUplinksSubflowStuckInSynSentWithItsRoutingCause() throws {
        let second = try lab.clientAddress(uplink: 2)
        try lab.mptcpctl(lab.client, ["endpoint", "add", second.description, "--subflow"])
        let sink = try lab.sink(port: 7811)
        defer { sink.stop() }
        let (status, checks, output) = try doctor(["--peer", "\(RealisticLab.service()):7811", "--timeout", "4"])
        #expect(status == 1, "\(output)")
        #expect(checks["peer.mptcp"]?["status"] as? String == "ok", "\(output)")
        let stuck = checks["peer.subflow.\(second)"]
        #expect(stuck?["status"] as? String == "fail", "\(output)")
        #expect((stuck?["summary"] as? String)?.contains("syn-sent") == true, "\(output)")
        #expect((stuck?["reason"] as? String)?.hasPrefix("subflows from \(second) leave by eth1, not eth2: strict routers drop them") == true,
                "\(output)")
        #expect((stuck?["fix"] as? String)?.contains("ip -n \(lab.client) rule add from \(second) lookup ") == true, "\(output)")
        let first = try lab.clientAddress(uplink: 1)
        #expect(checks["peer.subflow.\(first)"]?["status"] as? String == "ok", "the initial subflow is established: \(output)")
        #expect(checks["route.\(second)"]?["status"] as? String == "fail", "\(output)")
    }

    @Test func anEndpointBoundToAnUplinkWithoutAnyRouteFailsForWantOfARouterAndSaysNoGatewayIsKnown() throws {
        let second = try lab.clientAddress(uplink: 2)
        try lab.mptcpctl(lab.client, ["endpoint", "add", second.description, "--dev", "eth2", "--subflow"])
        let (status, checks, output) = try doctor([])
        #expect(status == 1, "\(output)")
        let route = checks["route.\(second)"]
        #expect(route?["status"] as? String == "fail", "\(output)")
        #expect((route?["reason"] as? String)?.contains("no route through eth2 leads to 192.0.2.1") == true, "\(output)")
        #expect((route?["fix"] as? String)?.contains("GATEWAY: eth2's router; none is known here") == true, "\(output)")
    }
}

/// `mptcpctl doctor` beside a running mptcpctld on the realistic lab's variant (a):
/// the fix follows the daemon's `[routing]`, and once the daemon routes the second
/// uplink (its gateway given), doctor finds nothing wrong and the subflow established.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class DoctorDaemonKernelTests {
    let lab: RealisticLab

    init() throws { lab = try RealisticLab(variant: .a, rateMbit: 0) }

    deinit { lab.close() }

    func doctor(_ arguments: [String]) throws -> (status: Int32, checks: [String: [String: Any]], output: String) {
        let result = try lab.mptcpctl(lab.client, ["doctor", "--json"] + arguments, check: false)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        var byID: [String: [String: Any]] = [:]
        for check in object?["checks"] as? [[String: Any]] ?? [] { if let id = check["id"] as? String { byID[id] = check } }
        return (result.status, byID, result.stdout + result.stderr)
    }

    @Test func withRoutingOffTheFixTurnsTheDaemonsRoutingOn() throws {
        var policy = RealHostPolicy(pathManager: .kernel)
        policy.routingMode = "off"
        let daemon = try lab.startDaemon(policy)
        defer { daemon.stop() }
        let second = try lab.clientAddress(uplink: 2)
        let sink = try lab.sink(port: 7821)
        defer { sink.stop() }
        let (status, checks, output) = try doctor(["--peer", "\(RealisticLab.service()):7821", "--timeout", "4"])
        #expect(status == 1, "\(output)")
        #expect(checks["daemon"]?["status"] as? String == "ok", "\(output)")
        #expect(checks["route.\(second)"]?["status"] as? String == "fail", "\(output)")
        #expect((checks["route.\(second)"]?["fix"] as? String)?.hasPrefix("set [routing] mode = \"on\" and gateway = \"…\" in the [[interface]] block of eth2") == true,
                "\(output)")
        let subflow = checks["peer.subflow.\(second)"]
        #expect(subflow?["status"] as? String == "fail", "\(output)")
        #expect((subflow?["reason"] as? String)?.contains("(route.\(second))") == true, "\(output)")
    }

    @Test func withRoutingOnAndNoGatewayKnownTheFixNamesTheGatewayKey() throws {
        let daemon = try lab.startDaemon(RealHostPolicy(pathManager: .kernel))
        defer { daemon.stop() }
        let second = try lab.clientAddress(uplink: 2)
        let (status, checks, output) = try doctor([])
        #expect(status == 1, "\(output)")
        let fix = checks["route.\(second)"]?["fix"] as? String ?? ""
        #expect(fix.hasPrefix("mptcpctld's [routing] is on but made no route for \(second)"), "\(output)")
        #expect(fix.contains("set gateway = \"…\" in the [[interface]] block of eth2 and run mptcpctl -n \(lab.client) reload"), "\(output)")
    }

    @Test func onceTheDaemonRoutesTheSecondUplinkNothingFailsAndItsSubflowIsEstablished() throws {
        let daemon = try lab.startDaemon(try RealHostRoutingKernelTests.policy(.kernel, on: lab))
        defer { daemon.stop() }
        let second = try lab.clientAddress(uplink: 2)
        let sink = try lab.sink(port: 7822)
        defer { sink.stop() }
        let (status, checks, output) = try doctor(["--peer", "\(RealisticLab.service()):7822", "--timeout", "10"])
        #expect(status == 0, "\(output)")
        #expect(checks["route.\(second)"]?["status"] as? String == "ok", "\(output)")
        #expect(checks["peer.subflow.\(second)"]?["status"] as? String == "ok", "\(output)")
    }
}
