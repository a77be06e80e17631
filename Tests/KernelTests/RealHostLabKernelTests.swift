import Foundation
import MPTCPKit
import Testing

/// The realistic lab reproduces what the issue measured on real hosts, with no
/// daemon and no routing made for MPTCP: a second subflow bound to uplink 2
/// (an endpoint `dev eth2 subflow`, as the daemon makes it) is stuck in SYN-SENT
/// where the client has one default route (a) or a strict rp_filter (c), and
/// carries half the traffic where it has a default route per uplink (b) — and a
/// rule and table per uplink made by hand make (a) and (c) aggregate too.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
struct RealHostLabKernelTests {
    static let port = 5301

    /// The in-kernel path manager with an endpoint on uplink 2 (as the daemon's policy would make).
    private func addSecondPathEndpoint(_ lab: RealisticLab, v6: Bool = false) throws {
        try lab.exec(lab.client, ["ip", "mptcp", "limits", "set", "subflows", "8", "add_addr_accepted", "8"])
        try lab.exec(lab.client, ["ip", "mptcp", "endpoint", "add", try lab.clientAddress(uplink: 2, v6: v6).description,
                                  "dev", RealisticLab.interface(uplink: 2), "subflow"])
    }

    /// What `ip rule` and a table per uplink do by hand (the last row).
    private func routeBySourceByHand(_ lab: RealisticLab) throws {
        for uplink in 1...2 {
            let table = String(100 + uplink), dev = RealisticLab.interface(uplink: uplink)
            try lab.exec(lab.client, ["ip", "route", "add", "default", "via", try lab.gateway(uplink: uplink).description,
                                      "dev", dev, "table", table])
            try lab.exec(lab.client, ["ip", "rule", "add", "from", try lab.clientAddress(uplink: uplink).description,
                                      "table", table, "pref", String(1000 + uplink)])
        }
    }

    @Test("without source routing a second subflow is stuck in SYN-SENT on (a) and (c) and aggregates on (b)",
          arguments: RealisticLab.Variant.allCases)
    func secondSubflowWithoutSourceRouting(variant: RealisticLab.Variant) throws {
        let lab = try RealisticLab(variant: variant)
        defer { lab.close() }
        let sink = try lab.sink(port: Self.port)
        defer { sink.stop() }
        let service = RealisticLab.service()
        let single = try BulkTransfer.run(in: lab, to: service, port: Self.port)
        try addSecondPathEndpoint(lab)
        let eth2 = try lab.clientAddress(uplink: 2)
        // The second subflow is looked at once it exists (SYN-SENT or beyond).
        var sawSecond = false
        let multi = try BulkTransfer.run(in: lab, to: service, port: Self.port) { subflows in
            sawSecond = sawSecond || subflows.contains { $0.local == eth2 }
            return sawSecond
        }
        let second = multi.subflows(from: eth2)
        reportMeasurement("no daemon, \(variant), endpoint dev eth2", single: single, multi: multi, second: second)
        #expect(!second.isEmpty, "no subflow from \(eth2): \(multi)")
        if variant == .b {
            #expect(second.contains { $0.isEstablished && $0.bytesAcked > 1_000_000 }, "\(multi)")
            #expect(multi.mbitPerSecond >= 1.8 * single.mbitPerSecond, "one path: \(single)\nboth: \(multi)")
        } else {
            #expect(second.allSatisfy { $0.state == "SYN-SENT" }, "\(multi)")
            #expect(multi.mbitPerSecond < 1.5 * single.mbitPerSecond, "one path: \(single)\nboth: \(multi)")
        }
    }

    @Test("a rule and a table per uplink made by hand make the second subflow carry data", arguments: [RealisticLab.Variant.a, .c])
    func sourceRoutingByHandAggregates(variant: RealisticLab.Variant) throws {
        let lab = try RealisticLab(variant: variant)
        defer { lab.close() }
        let sink = try lab.sink(port: Self.port)
        defer { sink.stop() }
        let single = try BulkTransfer.run(in: lab, to: RealisticLab.service(), port: Self.port)
        try routeBySourceByHand(lab)
        try addSecondPathEndpoint(lab)
        let multi = try BulkTransfer.run(in: lab, to: RealisticLab.service(), port: Self.port)
        let second = multi.subflows(from: try lab.clientAddress(uplink: 2))
        reportMeasurement("no daemon, \(variant), rules by hand", single: single, multi: multi, second: second)
        #expect(second.contains { $0.isEstablished && $0.bytesAcked > 1_000_000 }, "\(multi)")
        #expect(multi.mbitPerSecond >= 1.8 * single.mbitPerSecond, "one path: \(single)\nboth: \(multi)")
    }

    @Test("IPv6: uplink 1 routes through a link-local gateway and (a) leaves uplink 2 without a route")
    func ipv6GatewaysAndVariantA() throws {
        let lab = try RealisticLab(variant: .b)
        defer { lab.close() }
        let sink = try lab.sink(port: Self.port)
        defer { sink.stop() }
        try addSecondPathEndpoint(lab, v6: true)
        let eth2 = try lab.clientAddress(uplink: 2, v6: true)
        let both = try BulkTransfer.run(in: lab, to: RealisticLab.service(v6: true), port: Self.port)
        #expect(try lab.gateway(uplink: 1, v6: true) == IPAddress("fe80::1"))
        #expect(both.subflows(from: try lab.clientAddress(uplink: 1, v6: true)).contains { $0.isEstablished }, "\(both)")
        #expect(both.subflows(from: eth2).contains { $0.isEstablished && $0.bytesAcked > 1_000_000 }, "\(both)")
        try lab.set(.a)
        let one = try BulkTransfer.run(in: lab, to: RealisticLab.service(v6: true), port: Self.port)
        reportMeasurement("no daemon, variant (a) IPv6, endpoint dev eth2", single: nil, multi: one, second: one.subflows(from: eth2))
        #expect(!one.subflows(from: eth2).contains { $0.isEstablished }, "\(one)")
    }

    @Test("renew moves uplink 2 to another subnet and gateway, and back")
    func renewMovesUplink2() throws {
        let lab = try RealisticLab(variant: .b, rateMbit: 0)
        defer { lab.close() }
        #expect(try lab.clientAddress(uplink: 2) == IPAddress("10.1.2.2"))
        try lab.renew()
        #expect(try lab.clientAddress(uplink: 2) == IPAddress("10.1.20.2"))
        #expect(try lab.gateway(uplink: 2) == IPAddress("10.1.20.1"))
        let routes = try lab.exec(lab.client, ["ip", "route", "show", "default", "dev", "eth2"]).stdout
        #expect(routes.contains("via 10.1.20.1"), "\(routes)")
        try lab.renew()
        #expect(try lab.clientAddress(uplink: 2) == IPAddress("10.1.2.2"))
    }
}
