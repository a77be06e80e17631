import MPTCPKit
import TOMLKit

/// `[routing]` and the `gateway` key of `[[interface]]` blocks.
extension PolicyReader {
    mutating func routing(_ t: TOMLTable, offer: KernelOffer?) -> RoutingSettings {
        var r = RoutingSettings()
        known(t, ["mode", "tables", "priorities", "rp_filter"], at: "routing")
        if let v: RoutingSettings.Mode = choice(t, "mode", at: "routing") { r.mode = v }
        if let v: RoutingSettings.ReversePathFilter = choice(t, "rp_filter", at: "routing") { r.reversePathFilter = v }
        if let tables = range(t, "tables") {
            let reserved = RoutingSettings.reservedTables.filter { tables.contains($0) }.sorted()
            if !reserved.isEmpty {
                fail("routing.tables", "\(describe(tables)) includes the reserved table\(reserved.count == 1 ? "" : "s") "
                    + reserved.map(String.init).joined(separator: ", ") + " (0 unspec, 253 default, 254 main, 255 local)")
            } else {
                r.tables = tables
            }
        }
        if let priorities = range(t, "priorities") {
            let allowed = RoutingSettings.allowedPriorities
            if !allowed.contains(priorities.lowerBound) || !allowed.contains(priorities.upperBound) {
                fail("routing.priorities", "\(describe(priorities)) must lie within 1-32765: priority 0 is the local table's rule, "
                    + "32766 the main table's and 32767 the default table's")
            } else {
                r.priorities = priorities
            }
        }
        return r
    }

    /// Rules another program (or the admin) made, with a priority in `range`.
    private func foreignRules(_ rules: [RoutingRule], in range: ClosedRange<UInt32>) -> [RoutingRule] {
        rules.filter { range.contains($0.priority) && $0.routingProtocol != RoutingProtocol.mptcpctl }
            .sorted { $0.priority < $1.priority }
    }

    /// `"FIRST-LAST"` at `routing.KEY`.
    private mutating func range(_ t: TOMLTable, _ key: String) -> ClosedRange<UInt32>? {
        guard let text = string(t, key, at: "routing") else { return nil }
        if let r = RoutingSettings.range(text) { return r }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        if parts.count == 2, let first = UInt32(parts[0]), let last = UInt32(parts[1]), first > last {
            fail("routing." + key, "\"\(text)\" is reversed: FIRST (\(first)) is above LAST (\(last))")
        } else {
            fail("routing." + key, "\"\(text)\" is not a range FIRST-LAST of numbers 0-4294967295 (e.g. \"7300-7399\")")
        }
        return nil
    }

    private func describe(_ r: ClosedRange<UInt32>) -> String { "\"\(r.lowerBound)-\(r.upperBound)\"" }

    /// After every block is read: the table and priority ranges must hold one
    /// number per interface the blocks that use addresses can name (a glob counts once).
    /// Against the running kernel (when `offer` holds its rules), the priority
    /// range must hold no rule another program made.
    mutating func checkRoutingRanges(_ policy: Policy, offer: KernelOffer?) {
        guard policy.routing.mode == .on else { return }
        let r = policy.routing
        if let rules = offer?.rules, !diagnostics.contains(where: { $0.key == "routing.priorities" }),
           let clash = foreignRules(rules, in: r.priorities).first {
            fail("routing.priorities", "\(describe(r.priorities)) holds rules mptcpctld did not make (priority \(clash.priority), "
                + "table \(clash.table)); choose a range without other rules (`ip rule show`)")
        }
        let needed = policy.interfaces.filter { $0.role != .off }.reduce(0) { $0 + $1.names.count }
        var freeTables = r.tables.count
        if let routes = offer?.routes {
            // Tables holding routes or rules mptcpctld did not make are skipped by the planner.
            let foreign = routes.filter { $0.routingProtocol != RoutingProtocol.mptcpctl }.map(\.table)
                + (offer?.rules ?? []).filter { $0.routingProtocol != RoutingProtocol.mptcpctl }.map(\.table)
            freeTables -= Set(foreign.filter { r.tables.contains($0) }).count
        }
        if freeTables < needed {
            fail("routing.tables", "\(describe(r.tables)) leaves \(freeTables) free table\(freeTables == 1 ? "" : "s") "
                + "for the \(needed) interface\(needed == 1 ? "" : "s") the [[interface]] blocks use; widen the range")
        }
        // One more than the interfaces: the suppress rule's, ahead of every source rule.
        if needed > 0, r.priorities.count < needed + 1 {
            fail("routing.priorities", "\(describe(r.priorities)) holds \(r.priorities.count) priorit\(r.priorities.count == 1 ? "y" : "ies") "
                + "for the \(needed) interface\(needed == 1 ? "" : "s") the [[interface]] blocks use and the rule ahead of "
                + "their source rules (from all lookup main suppress_prefixlength 0), \(needed + 1) in all; widen the range")
        }
    }

    /// `gateway = "ADDR"` or `["ADDR4", "ADDR6"]` in `[[interface]]`: at most one per family,
    /// and only in a block that names exactly one interface (`names`, its `name` patterns).
    mutating func gateways(_ t: TOMLTable, at path: String, names: [Glob], ok: inout Bool) -> [IPAddress] {
        let key = path + ".gateway"
        guard let value = t["gateway"] else { return [] }
        // A gateway is a router on one link: a block that can match several interfaces
        // would give each of them the same next hop, which at most one of them has.
        if names.count > 1 || names.contains(where: { !$0.isLiteral }) {
            let spelled = names.map { "\"\($0.pattern)\"" }.joined(separator: ", ")
            fail(key, "a gateway belongs to one interface, and this block's name (\(spelled)) can match several: "
                + "write one [[interface]] block per interface, each with its exact name and its gateway")
            ok = false
            return []
        }
        var texts: [String] = []
        if let s = value.string { texts = [s] } else if let array = value.array {
            for (i, element) in array.enumerated() {
                if let s = element.string { texts.append(s) } else {
                    fail(key, "element \(i + 1): expected a string, found \(kind(element))"); ok = false
                }
            }
            if array.isEmpty { fail(key, "an empty list names no gateway; leave the key out"); ok = false }
        } else {
            fail(key, "expected an address or an array of addresses (one IPv4, one IPv6), found \(kind(value))"); ok = false
            return []
        }
        var gateways: [IPAddress] = []
        for text in texts {
            guard let address = IPAddress(text) else {
                fail(key, "\"\(text)\" is not an IPv4 or IPv6 address (no prefix length, no zone)"); ok = false
                continue
            }
            if let why = Self.unusableGateway(address) {
                fail(key, "\"\(text)\" cannot be a gateway: \(why)"); ok = false
            } else if let other = gateways.first(where: { $0.isIPv4 == address.isIPv4 }) {
                fail(key, "\"\(text)\" is a second \(address.isIPv4 ? "IPv4" : "IPv6") gateway (after \"\(other)\"); give at most one per family")
                ok = false
            } else {
                gateways.append(address)
            }
        }
        return gateways
    }

    /// Why `address` cannot be a next hop, or nil.
    static func unusableGateway(_ address: IPAddress) -> String? {
        let b = address.bytes
        if address.isUnspecified { return "it is the unspecified address" }
        if address.isIPv4 {
            if b[0] >= 224 && b[0] <= 239 { return "it is a multicast address" }
            if b == [255, 255, 255, 255] { return "it is the broadcast address" }
            if b[0] == 127 { return "it is a loopback address" }
        } else {
            if b[0] == 0xff { return "it is a multicast address" }
            if b == [UInt8](repeating: 0, count: 15) + [1] { return "it is the loopback address" }
        }
        return nil
    }
}
