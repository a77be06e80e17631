import Foundation
import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// `[routing]` and `gateway`: decoding, defaults, and every refusal `check` makes
/// with its key and line.
@Suite struct RoutingPolicyLoaderTests {
    func problems(_ text: String, offer: KernelOffer? = nil) -> [PolicyDiagnostic] {
        do {
            _ = try PolicyLoader.check(text, file: "p.toml", offer: offer)
            return []
        } catch {
            return error.diagnostics
        }
    }

    func expectProblem(_ text: String, line: Int?, key: String, _ message: String, offer: KernelOffer? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        let found = problems(text, offer: offer)
        #expect(found.count == 1, "\(found)", sourceLocation: sourceLocation)
        guard let p = found.first else { return }
        #expect(p.line == line, "\(p)", sourceLocation: sourceLocation)
        #expect(p.key == key, "\(p)", sourceLocation: sourceLocation)
        #expect(p.message.contains(message), "\(p)", sourceLocation: sourceLocation)
    }

    func address(_ text: String) -> IPAddress {
        guard let a = IPAddress(text) else { Issue.record("bad test address \(text)"); return .v4([0, 0, 0, 0]) }
        return a
    }

    let block = "[[interface]]\nname = \"eth1\"\nrole = \"active\"\n"

    @Test func routingKeysDecode() throws {
        let policy = try PolicyLoader.load("""
            [routing]
            mode = "off"
            tables = "1000-1009"
            priorities = "20000-20009"
            rp_filter = "keep"

            [[interface]]
            name = "eth1"
            role = "active"
            gateway = ["192.0.2.1", "fe80::1"]

            [[interface]]
            name = "eth2"
            role = "active"
            gateway = "2001:db8::1"
            """, file: "p.toml")
        #expect(policy.routing == RoutingSettings(mode: .off, tables: 1000...1009, priorities: 20000...20009, reversePathFilter: .keep))
        #expect(policy.interfaces[0].gateways == [address("192.0.2.1"), address("fe80::1")])
        #expect(policy.interfaces[1].gateways == [address("2001:db8::1")])
    }

    @Test func routingIsOnByDefaultWithRangesClearOfOtherTools() throws {
        let policy = try PolicyLoader.load("", file: "p.toml")
        #expect(policy.routing.mode == .on && policy.routing.reversePathFilter == .loose)
        #expect(policy.interfaces.allSatisfy { $0.gateways.isEmpty })
        let tables = policy.routing.tables, priorities = policy.routing.priorities
        // Reserved tables, Tailscale's table 52, wg-quick's 51820, Cilium's 2004-2005.
        for used: UInt32 in [0, 52, 253, 254, 255, 2004, 2005, 51820] { #expect(!tables.contains(used)) }
        // The local/main/default rules, Cilium, VRF, AWS VPC CNI, Tailscale, wg-quick.
        for used: UInt32 in [0, 9, 10, 100, 512, 1000, 1024, 1536, 32764, 32765, 32766, 32767] { #expect(!priorities.contains(used)) }
        #expect(!priorities.overlaps(5210...5310))
    }

    @Test func unknownRoutingKeysAndWrongTypesAreRefusedWithKeyAndLine() {
        expectProblem("[routing]\nmod = \"on\"\n", line: 2, key: "routing.mod", "did you mean \"mode\"")
        expectProblem("[routing]\nmode = true\n", line: 2, key: "routing.mode", "expected a string, found a boolean")
        expectProblem("[routing]\nmode = \"auto\"\n", line: 2, key: "routing.mode", "not one of: on, off")
        expectProblem("[routing]\nrp_filter = \"strict\"\n", line: 2, key: "routing.rp_filter", "not one of: loose, keep")
        expectProblem("[routing]\ntables = 7300\n", line: 2, key: "routing.tables", "expected a string, found an integer")
        expectProblem("routing = 1\n", line: 1, key: "routing", "expected a table, found an integer")
        expectProblem(block + "gateway = 3\n", line: 4, key: "interface[1].gateway", "expected an address or an array of addresses")
        expectProblem(block + "gateway = [\"192.0.2.1\", 3]\n", line: 4, key: "interface[1].gateway", "element 2: expected a string")
    }

    @Test(arguments: [
        ("router", "is not an IPv4 or IPv6 address"), ("192.0.2.0/24", "is not an IPv4 or IPv6 address"),
        ("fe80::1%eth1", "is not an IPv4 or IPv6 address"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
        ("224.0.0.1", "multicast"), ("ff02::2", "multicast"), ("255.255.255.255", "broadcast"), ("127.0.0.1", "loopback"),
    ])
    func anInvalidGatewayIsRefusedWithKeyAndLine(_ gateway: String, _ reason: String) {
        expectProblem(block + "gateway = \"\(gateway)\"\n", line: 4, key: "interface[1].gateway", reason)
    }

    @Test func twoGatewaysOfOneFamilyAreRefused() {
        expectProblem(block + "gateway = [\"192.0.2.1\", \"192.0.2.2\"]\n", line: 4, key: "interface[1].gateway",
                      "a second IPv4 gateway (after \"192.0.2.1\")")
        expectProblem(block + "gateway = [\"fe80::1\", \"2001:db8::1\"]\n", line: 4, key: "interface[1].gateway", "a second IPv6 gateway")
        expectProblem(block + "gateway = []\n", line: 4, key: "interface[1].gateway", "an empty list names no gateway")
    }

    @Test(arguments: ["\"eth*\"", "\"eth[12]\"", "\"wlan?\"", "[\"eth1\", \"eth2\"]"])
    func aGatewayInABlockThatCanMatchSeveralInterfacesIsRefusedWithKeyAndLine(_ names: String) {
        expectProblem("[[interface]]\nname = \(names)\nrole = \"active\"\ngateway = \"192.0.2.1\"\n", line: 4,
                      key: "interface[1].gateway", "write one [[interface]] block per interface")
    }

    @Test func aGatewayInABlockNamingOneInterfaceIsAccepted() throws {
        let policy = try PolicyLoader.load("[[interface]]\nname = [\"eth1\"]\nrole = \"active\"\ngateway = \"192.0.2.1\"\n"
                                           + "\n[[interface]]\nname = \"eth*\"\nrole = \"active\"\n", file: "p.toml")
        #expect(policy.interfaces[0].gateways == [address("192.0.2.1")])
        #expect(policy.interfaces[1].gateways.isEmpty)
    }

    @Test func aLinkLocalIPv6GatewayIsAccepted() throws {
        let policy = try PolicyLoader.load(block + "gateway = \"fe80::1\"\n", file: "p.toml")
        #expect(policy.interfaces[0].gateways == [address("fe80::1")])
    }

    @Test(arguments: ["7300", "7300-", "-7300", "a-b", "7300-7399-7400", "7300 - 7399", "+1-2", "99999999999-99999999999", ""])
    func aMalformedRangeIsRefused(_ text: String) {
        expectProblem("[routing]\ntables = \"\(text)\"\n", line: 2, key: "routing.tables", "is not a range FIRST-LAST")
        expectProblem("[routing]\npriorities = \"\(text)\"\n", line: 2, key: "routing.priorities", "is not a range FIRST-LAST")
    }

    @Test func aReversedRangeIsRefused() {
        expectProblem("[routing]\ntables = \"7399-7300\"\n", line: 2, key: "routing.tables", "reversed: FIRST (7399) is above LAST (7300)")
        expectProblem("\n[routing]\npriorities = \"200-100\"\n", line: 3, key: "routing.priorities", "reversed")
    }

    @Test(arguments: ["0-10", "250-253", "254-254", "255-300", "100-1000"])
    func aTableRangeIncludingAReservedTableIsRefused(_ text: String) {
        expectProblem("[routing]\ntables = \"\(text)\"\n", line: 2, key: "routing.tables", "includes the reserved table")
    }

    @Test(arguments: ["0-10", "32000-32766", "32767-32767", "30000-40000", "1-4294967295"])
    func aPriorityRangeIncludingTheKernelsRulesOrBeyondIsRefused(_ text: String) {
        expectProblem("[routing]\npriorities = \"\(text)\"\n", line: 2, key: "routing.priorities", "must lie within 1-32765")
    }

    @Test func theWidestAllowedRangesAreAccepted() throws {
        let policy = try PolicyLoader.load("[routing]\ntables = \"256-4294967295\"\npriorities = \"1-32765\"\n", file: "p.toml")
        #expect(policy.routing.tables == 256...4_294_967_295 && policy.routing.priorities == 1...32765)
    }

    @Test func rangesTooSmallForTheManagedInterfacesAreRefused() {
        let two = "[routing]\ntables = \"7300-7300\"\npriorities = \"7300-7303\"\n" + block
            + "[[interface]]\nname = [\"wwan0\", \"usb*\"]\nrole = \"backup\"\n[[interface]]\nname = \"lo\"\nrole = \"off\"\n"
        expectProblem(two, line: 2, key: "routing.tables", "leaves 1 free table for the 3 interfaces")
        let priorities = "[routing]\npriorities = \"7300-7300\"\n" + block + "[[interface]]\nname = \"eth2\"\nrole = \"active\"\n"
        expectProblem(priorities, line: 2, key: "routing.priorities", "holds 1 priority for the 2 interfaces")
        // The suppress rule needs one priority more than the interfaces.
        let justTwo = "[routing]\npriorities = \"7300-7301\"\n" + block + "[[interface]]\nname = \"eth2\"\nrole = \"active\"\n"
        expectProblem(justTwo, line: 2, key: "routing.priorities", "holds 2 priorities for the 2 interfaces the [[interface]] blocks use "
            + "and the rule ahead of their source rules (from all lookup main suppress_prefixlength 0), 3 in all")
        // With routing off, the ranges are not used.
        #expect(problems("[routing]\nmode = \"off\"\ntables = \"7300-7300\"\n" + block + "[[interface]]\nname = \"eth2\"\nrole = \"active\"\n").isEmpty)
    }

    func offer(rules: [RoutingRule] = [], routes: [Route] = []) -> KernelOffer {
        KernelOffer(pathManagers: ["kernel", "userspace"], schedulers: ["default"], rules: rules, routes: routes)
    }

    @Test func aPriorityRangeHoldingRulesOthersMadeIsRefused() {
        let foreign = RoutingRule(from: address("192.0.2.7"), table: 100, priority: 7305, routingProtocol: RoutingProtocol.boot)
        expectProblem("[routing]\npriorities = \"7300-7399\"\n", line: 2, key: "routing.priorities",
                      "holds rules mptcpctld did not make (priority 7305, table 100)", offer: offer(rules: [foreign]))
        // The default range is checked too, against the line of the [routing] table or none.
        let found = problems("", offer: offer(rules: [foreign]))
        #expect(found.count == 1 && found.first?.key == "routing.priorities", "\(found)")
    }

    @Test func rulesMptcpctldMadeOrOutsideTheRangeDoNotCollide() {
        let ours = RoutingRule(from: address("192.0.2.7"), table: 7300, priority: 7300)
        let elsewhere = RoutingRule(from: address("192.0.2.8"), table: 100, priority: 100, routingProtocol: RoutingProtocol.boot)
        let main = RoutingRule(family: 2, priority: 32766, source: nil, table: 254, routingProtocol: RoutingProtocol.kernel)
        #expect(problems("[routing]\npriorities = \"7300-7399\"\n", offer: offer(rules: [ours, elsewhere, main])).isEmpty)
    }

    @Test func tablesOthersUseDoNotCountAsFree() {
        let foreign = Route(family: 2, table: 7300, destination: nil, destinationPrefixLength: 0, gateway: address("192.0.2.1"),
                            outputInterface: 3, routingProtocol: RoutingProtocol.boot)
        expectProblem("[routing]\ntables = \"7300-7301\"\n" + block + "[[interface]]\nname = \"eth2\"\nrole = \"active\"\n",
                      line: 2, key: "routing.tables", "leaves 1 free table for the 2 interfaces", offer: offer(routes: [foreign]))
    }
}

/// `[routing]` encodes as the file writes it (for `policy.show` and reload differences).
@Suite struct RoutingSettingsCodingTests {
    @Test func rangesEncodeAsTheFileWritesThemAndRoundTrip() throws {
        let settings = RoutingSettings(mode: .off, tables: 1000...1009, priorities: 20000...20009, reversePathFilter: .keep)
        let data = try JSONEncoder().encode(settings)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"tables\":\"1000-1009\"") && text.contains("\"priorities\":\"20000-20009\""), "\(text)")
        #expect(text.contains("\"rpFilter\":\"keep\""), "\(text)")
        #expect(try JSONDecoder().decode(RoutingSettings.self, from: data) == settings)
        var rule = InterfaceRule(names: [], role: .active)
        rule.gateways = [ip("192.0.2.1"), ip("fe80::1")]
        let ruleText = String(decoding: try JSONEncoder().encode(rule), as: UTF8.self)
        #expect(ruleText.contains("\"gateways\":[\"192.0.2.1\",\"fe80::1\"]"), "\(ruleText)")
        #expect(try JSONDecoder().decode(InterfaceRule.self, from: try JSONEncoder().encode(rule)) == rule)
    }
}
