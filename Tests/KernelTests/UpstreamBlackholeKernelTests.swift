import Foundation
import MPTCPAPI
import MPTCPKit
import Testing

/// A router that still answers pings but drops everything it forwards (its
/// upstream is dead, as an LTE modem without data) must not hide the dead
/// path: on the realistic lab (variant (b)), with the default probe targets
/// (`gateway` and `peers`) and an MPTCP connection to the server (so the
/// server is a far target), router 1 drops only its forward chain; eth1/ipv4
/// goes `down` although its gateway answers, and `up` again once the rule is
/// gone. The connection is idle, so the probes alone decide. States are
/// waited for with generous deadlines, never timed.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class UpstreamBlackholeKernelTests {
    let lab: RealisticLab

    init() throws {
        lab = try RealisticLab(variant: .b)
    }

    deinit { lab.close() }

    /// `mptcpctl paths --json`'s record of eth1/ipv4.
    func eth1() throws -> PathRecord? {
        let text = try lab.mptcpctl(lab.client, ["paths", "--json"]).stdout
        guard case .array(let items) = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            throw LabError("paths --json: not an array: \(text)")
        }
        return try items.map { try PathRecord(json: $0) }.first { $0.interface == "eth1" && $0.family == "ipv4" }
    }

    /// Whether router 1 answers a ping from the client's eth1.
    func gatewayAnswersPing() throws -> Bool {
        let gateway = try lab.gateway(uplink: 1).description
        return try lab.exec(lab.client, ["ping", "-c", "1", "-W", "2", "-I", "eth1", gateway], check: false).status == 0
    }

    @Test func aPathWhoseGatewayAnswersButForwardsNothingIsDownOnceAPeerAnsweredAndUpOnceItForwardsAgain() throws {
        let port = 7541
        let sink = try lab.sink(port: port)
        defer { sink.stop() }
        // No [probe]: the default targets, the gateway and the peers of this host's connections.
        let daemon = try Daemon(namespace: lab.client, policy: RealHostPolicy(pathManager: .kernel).description)
        defer { daemon.stop() }
        try daemon.waitRunning(seconds: 60)
        try daemon.waitUntil("eth1/ipv4 up", seconds: 60) { try eth1()?.state == "up" }
        let service = RealisticLab.service().description, gateway = try lab.gateway(uplink: 1).description
        // An idle MPTCP connection to the server: the server becomes a probe target of both paths.
        let client = try lab.peer(lab.client, ["client", "--connect", service, "--port", String(port)])
        defer { client.stop() }
        _ = try client.wait(for: "connected", seconds: 30)
        try daemon.waitUntil("the server answered eth1's probes", seconds: 60) {
            try eth1()?.targets.contains { $0.target == service && $0.answered } == true
        }
        let events = try daemon.subscribe([.health])

        try lab.exec(lab.router(1), ["nft", """
            add table inet upstreamtest; \
            add chain inet upstreamtest forward { type filter hook forward priority -10; }; \
            add rule inet upstreamtest forward counter drop
            """])
        #expect(try gatewayAnswersPing(), "router 1 still answers pings to itself")
        let down = try events.wait(seconds: 60, "path_down of eth1") { $0.type == "path_down" && $0.fields["interface"] == "eth1" }
        #expect(down.fields["family"] == "ipv4" && down.fields["to"] == "down", "\(down.text)")
        guard case .string(let evidence)? = down.fields["evidence"] else {
            Issue.record("no evidence: \(down.text)")
            return
        }
        #expect(evidence.contains("lost in a row") && evidence.contains(service), "the far target's losses: \(evidence)")
        let shown = try eth1()
        #expect(shown?.state == "down" && shown?.gateway == gateway, "\(String(describing: shown))")
        #expect(shown?.targets.contains { $0.target == gateway && $0.answered } == true, "the gateway did answer: \(String(describing: shown))")
        #expect(try gatewayAnswersPing(), "router 1 answers pings while eth1 is down")

        try lab.exec(lab.router(1), ["nft", "delete", "table", "inet", "upstreamtest"])
        let up = try events.wait(seconds: 60, "path_up of eth1") { $0.type == "path_up" && $0.fields["interface"] == "eth1" }
        #expect(up.fields["from"] == "down" && up.fields["to"] == "up", "\(up.text)")
        if case .string(let why)? = up.fields["evidence"] { #expect(why.contains(service), "lifted by the server's answer: \(why)") }
        #expect(try eth1()?.state == "up")
        #expect(!daemon.log.contains("\"level\":\"critical\""), "\(daemon.log)")
    }
}
