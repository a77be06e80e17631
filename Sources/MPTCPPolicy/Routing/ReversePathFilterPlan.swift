import MPTCPKit

/// rp_filter on the interfaces the policy manages: strict (1) drops the replies
/// to a subflow whose source's interface is not where the main table would send
/// them, so with `rp_filter = "loose"` a strict interface is set to loose (2),
/// the value found recorded and given back when the interface leaves the policy.
/// The kernel applies max(conf.all, conf.IF): setting IF to 2 makes it loose either way.
enum ReversePathFilterPlan {
    static let strict = 1
    static let loose = 2

    /// - Parameters:
    ///   - current: the values read, by interface name, `"all"` for conf.all.
    ///   - owned: interface -> the value found before the daemon changed it.
    static func plan(policy: Policy, network: NetworkSnapshot, current: [String: Int], owned: [String: Int])
        -> (changes: [RoutingChange], record: [String: Int]) {
        var changes: [RoutingChange] = []
        var record: [String: Int] = [:]
        let all = current["all"] ?? 0
        var managed: Set<String> = []
        if policy.routing.reversePathFilter == .loose {
            for link in network.links.sorted(by: { $0.name < $1.name }) {
                guard let rule = policy.rule(for: link.name), rule.role != .off, rule.families.contains(.ipv4) else { continue }
                managed.insert(link.name)
                guard let value = current[link.name] else { continue }
                if max(all, value) == strict {
                    let found = owned[link.name] ?? value
                    record[link.name] = found
                    let origin = value == strict ? "" : " (net.ipv4.conf.all.rp_filter = 1)"
                    changes.append(.setReversePathFilter(
                        interface: link.name, from: value, to: loose,
                        reason: "\(link.name): rp_filter is strict\(origin), which drops replies to subflows from \(link.name)'s "
                            + "addresses when the main table routes elsewhere; set to loose (2), \(value) is given back on exit"))
                } else if let found = owned[link.name], value == loose {
                    record[link.name] = found  // still the value the daemon set
                }
            }
        }
        for (name, found) in owned.sorted(by: { $0.key < $1.key }) where !managed.contains(name) {
            guard network.links.contains(where: { $0.name == name }) else { continue }  // gone with its sysctls
            guard current[name] == nil || current[name] == loose else { continue }  // changed by someone since: theirs
            let why = policy.routing.reversePathFilter == .keep ? "rp_filter = \"keep\"" : "\(name) is no longer managed"
            changes.append(.restoreReversePathFilter(interface: name, to: found, reason: "\(name): rp_filter back to the \(found) found (\(why))"))
        }
        return (changes, record)
    }
}
