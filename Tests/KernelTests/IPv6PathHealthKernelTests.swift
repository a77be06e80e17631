import Foundation
import MPTCPAPI
import MPTCPKit
import Testing

/// Path health of IPv6 paths on the realistic lab (variant (b): both uplinks
/// carry IPv6, uplink 1's default route via the link-local fe80::1, uplink
/// 2's via fd01:2::1), against the real kernel with the in-kernel path
/// manager: a path is an interface *and* a family, so router 1 dropping only
/// IPv6 takes eth1/ipv6 `down` while eth1/ipv4 stays `up`, and its IPv6
/// endpoint alone is withdrawn; healing brings it `up` and back. The ICMPv6
/// echoes leave bound to the path's interface and from its address: router 1
/// counts eth1's, router 2 never sees one from eth1's address.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class IPv6PathHealthKernelTests {
    let lab: RealisticLab

    init() throws {
        lab = try RealisticLab(variant: .b)
    }

    deinit { lab.close() }

    /// Router `uplink` counts the ICMPv6 echo requests it forwards from `source`
    /// (before its drop rules and its anti-spoofing).
    func countEchoRequests(uplink: Int, from source: IPAddress) throws {
        try lab.exec(lab.router(uplink), ["nft", """
            add table ip6 echocount; \
            add chain ip6 echocount forward { type filter hook forward priority -20; }; \
            add rule ip6 echocount forward ip6 saddr \(source) icmpv6 type echo-request counter
            """])
    }

    /// What `countEchoRequests` counted so far.
    func echoRequests(uplink: Int) throws -> Int {
        let text = try lab.exec(lab.router(uplink), ["nft", "list", "table", "ip6", "echocount"]).stdout
        guard let range = text.range(of: #"counter packets [0-9]+"#, options: .regularExpression),
              let count = Int(text[range].split(separator: " ").last ?? "") else {
            throw LabError("no counter in router \(uplink)'s echocount table: \(text)")
        }
        return count
    }

    /// The client's rules `from all lookup TABLE` of a table other than main (the initial-path rule).
    func initialPathRules(v6: Bool) throws -> [[String: Any]] {
        try lab.clientRules(v6: v6).filter {
            $0["src"] as? String == "all" && !["main", "local", "default"].contains($0["table"] as? String ?? "main")
                && $0["suppress_prefixlen"] == nil
        }
    }

    @Test func anIPv6OnlyBlackholeTakesDownOnlyThePathsIPv6AndItHealsWhileItsProbesLeaveBoundToItsInterfaceAndSource() throws {
        let v6 = try lab.clientAddress(uplink: 1, v6: true), v4 = try lab.clientAddress(uplink: 1)
        for uplink in [1, 2] { try countEchoRequests(uplink: uplink, from: v6) }
        let policy = RealHostPolicy(pathManager: .kernel).description
            + "\n[probe]\ntargets = [\"\(RealisticLab.service())\", \"\(RealisticLab.service(v6: true))\"]\n"
        let daemon = try Daemon(namespace: lab.client, policy: policy)
        defer { daemon.stop() }
        try daemon.waitRunning(seconds: 60)
        try daemon.waitConverged(seconds: 60)
        let watch = PathHealthWatch(lab: lab, daemon: daemon)
        for family in ["ipv4", "ipv6"] {
            for uplink in [1, 2] { try watch.wait(RealisticLab.interface(uplink: uplink), "up", family: family) }
        }
        let first = try watch.record("eth1", "ipv6")
        #expect(first?.source == v6.description, "\(String(describing: first))")
        #expect(first?.targets.contains { $0.target == RealisticLab.service(v6: true).description && $0.answered } == true,
                "\(String(describing: first))")
        #expect(first?.targets.contains { $0.target == RealisticLab.service().description } == false, "no IPv4 target on an IPv6 path")
        #expect(try echoRequests(uplink: 1) > 0, "eth1's echoes go through router 1")
        #expect(try echoRequests(uplink: 2) == 0, "none from eth1's address leaves by eth2")
        try watch.waitUntil("both endpoints of eth1") { try watch.endpoint(v6) != nil && watch.endpoint(v4) != nil }
        let v4Rules = try lab.exec(lab.client, ["ip", "-4", "rule", "show"]).stdout

        try lab.addRouterDrop(uplink: 1, table: "v6test", family: "ip6")
        try watch.wait("eth1", "down", family: "ipv6")
        let down = try watch.record("eth1", "ipv6")?.lastTransition
        #expect(down?.evidence.contains("lost in a row") == true, "\(String(describing: down))")
        #expect(try watch.state("eth1", "ipv4") == "up", "eth1's IPv4 is a path of its own")
        #expect(try watch.state("eth2", "ipv6") == "up")
        // Steering is per family too: only the IPv6 address is withdrawn (RM_ADDR), and only
        // IPv6's new connections are sent to eth2 (eth1 holds main's IPv6 default route).
        try watch.waitUntil("eth1's IPv6 endpoint withdrawn, its IPv4 one kept") {
            try watch.endpoint(v6) == nil && watch.endpoint(v4) != nil
        }
        try watch.waitUntil("an IPv6 rule sends new connections to eth2's table") { try !initialPathRules(v6: true).isEmpty }
        #expect(try lab.exec(lab.client, ["ip", "-4", "rule", "show"]).stdout == v4Rules, "IPv4's rules are untouched")

        try lab.removeRouterDrop(uplink: 1, table: "v6test", family: "ip6")
        try watch.wait("eth1", "up", family: "ipv6")
        try watch.waitUntil("eth1's IPv6 endpoint is back") { try watch.endpoint(v6) != nil }
        try watch.waitUntil("the IPv6 initial-path rule is gone") { try initialPathRules(v6: true).isEmpty }
        #expect(try watch.record("eth1", "ipv4")?.lastTransition == nil, "eth1/ipv4 never left up")
        #expect(!daemon.log.contains("\"level\":\"critical\""), "\(daemon.log)")
    }
}
