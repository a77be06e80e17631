import Foundation
import MPTCPKit
import Testing

/// rtnetlink snapshots and notifications against the real kernel, cross-checked with `ip`.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class NetworkKernelTests {
    let lab: Lab

    init() throws {
        lab = try Lab(paths: 2)
    }

    deinit { lab.close() }

    @Test func snapshotMatchesIPAndFollowsLinkState() throws {
        let reader = try NetworkReader(namespace: lab.clientNamespace)
        var s = try reader.read()
        let ipLinks = try lab.exec(lab.client, ["ip", "-o", "link", "show"]).stdout
        for l in s.links { #expect(ipLinks.contains(": \(l.name)"), "ip lists \(l.name)") }
        let a2 = try #require(s.links.first { $0.name == "a2" })
        #expect(a2.isUsable)
        #expect(s.addresses.contains { $0.address == IPAddress("10.0.2.1") && $0.interfaceIndex == a2.index && $0.prefixLength == 24 })

        try lab.exec(lab.client, ["ip", "link", "set", "a2", "down"])
        s = try reader.read()
        #expect(s.link(a2.index)?.isUsable == false)
        #expect(s.link(a2.index)?.isAdministrativelyUp == false)
        try lab.exec(lab.client, ["ip", "link", "set", "a2", "up"])

        #expect(!s.hasDefaultRoute(family: UInt16(AF_INET), through: a2.index))
        try lab.exec(lab.client, ["ip", "route", "replace", "default", "via", "10.0.2.2", "dev", "a2"])
        s = try reader.read()
        #expect(s.hasDefaultRoute(family: UInt16(AF_INET), through: a2.index))
        try lab.exec(lab.client, ["ip", "route", "del", "default"])
    }

    @Test func monitorReportsAddressAndLinkChanges() throws {
        let monitor = try NetworkMonitor(namespace: lab.clientNamespace)
        try lab.exec(lab.client, ["ip", "addr", "add", "10.0.70.1/24", "dev", "a1"])
        var seen: [NetworkNotice] = []
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, !seen.contains(where: { if case .changed(.address, _) = $0 { return true } else { return false } }) {
            seen += try monitor.next(timeoutMilliseconds: 200)
        }
        #expect(seen.contains { if case .changed(.address, _) = $0 { return true } else { return false } })
        try lab.exec(lab.client, ["ip", "addr", "del", "10.0.70.1/24", "dev", "a1"])
        try lab.exec(lab.client, ["ip", "link", "set", "a1", "down"])
        seen = []
        while Date() < deadline, !seen.contains(where: { if case .changed(.link, _) = $0 { return true } else { return false } }) {
            seen += try monitor.next(timeoutMilliseconds: 200)
        }
        #expect(seen.contains { if case .changed(.link, _) = $0 { return true } else { return false } })
        try lab.exec(lab.client, ["ip", "link", "set", "a1", "up"])
    }
}
