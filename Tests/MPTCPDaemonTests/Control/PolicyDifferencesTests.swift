import MPTCPAPI
@testable import MPTCPDaemon
import MPTCPPolicy
import Testing

/// The reload diff (`policy.reload`'s `changes`, the `reloaded` event's
/// `changed_keys`), moved here from MPTCPPolicyTests with the wire encoding of
/// the policy.
@Suite struct PolicyDifferencesTests {
    func load(_ text: String) throws -> Policy { try PolicyLoader.load(text, file: "p.toml") }

    @Test func theDiffNamesEachChangedKeyAsTheFileDoes() throws {
        let old = try load("""
            [kernel]
            scheduler = "default"
            [[interface]]
            name = ["eth*", "en*"]
            role = "active"
            families = ["ipv4", "ipv6"]
            """)
        #expect(policyDifferences(from: old, to: old).isEmpty)
        let reordered = try load("""
            [kernel]
            scheduler = "default"
            [[interface]]
            name = ["eth*", "en*"]
            role = "active"
            families = ["ipv6", "ipv4"]
            """)
        #expect(policyDifferences(from: old, to: reordered).isEmpty, "a set's order is no change")
        let new = try load("""
            [hooks]
            timeout = 5
            [[interface]]
            name = ["eth*", "en*"]
            role = "backup"
            [[interface]]
            name = "wwan*"
            role = "off"
            """)
        let changes = policyDifferences(from: old, to: new)
        #expect(changes.map(\.key) == ["hooks.timeout", "interface[1].role", "interface[2]", "kernel.scheduler"])
        #expect(changes.first { $0.key == "interface[1].role" }.map { [$0.old, $0.new] } == [.string("active"), .string("backup")])
        let added = try #require(changes.first { $0.key == "interface[2]" })
        #expect(added.old == Optional<JSONValue>.none && added.new?["role"] == "off", "absent before")
        let scheduler = try #require(changes.first { $0.key == "kernel.scheduler" })
        #expect(scheduler.old == .string("default") && scheduler.new == Optional<JSONValue>.none)
    }
}
