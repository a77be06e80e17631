import MPTCPKit

/// Why a rule or route the daemon made is no longer wanted, in words: the
/// address left, the interface went, or it is replaced (a new gateway, table or priority).
struct Departure {
    let interfaces: [ManagedInterface]
    let slots: [String: RoutingSlot]
    /// The suppress rule's priority now; nil when no interface gets source routing.
    let suppressPriority: UInt32?
    let excluded: [IPAddress: String]
    let network: NetworkSnapshot
    let owned: RoutingOwnership
    /// The paths' health (why an initial-path rule goes).
    var health: PathHealthView = .none

    func rule(_ rule: RoutingRule) -> String {
        if rule.isMainWithoutDefault { return suppressRule(rule) }
        if InitialPath.isInitialPath(rule) { return InitialPath.departure(rule, network: network, health: health) }
        guard let source = rule.source else { return "not a source route of the policy's" }
        if let m = interfaces.first(where: { $0.addresses.contains { $0.address == source } }) {
            guard let slot = slots[m.name] else { return "\(m.name) has no table left in the range" }
            return "replaced: \(source) on \(m.name) now uses table \(slot.table), priority \(slot.priority)"
        }
        if let reason = excluded[source] { return "\(source) is no longer used: \(reason)" }
        return "\(source) is on no interface any more"
    }

    /// Why the suppress rule of `rule`'s family goes: moved, or no source rule of its family left.
    func suppressRule(_ rule: RoutingRule) -> String {
        let family = rule.family == kernelFamilyIPv4 ? "IPv4" : "IPv6"
        let sourceRouted = interfaces.contains { m in
            slots[m.name] != nil && m.addresses.contains { $0.address.family == rule.family }
        }
        guard let priority = suppressPriority, sourceRouted else { return "no \(family) address has a source rule any more" }
        if rule.suppressPrefixLength != 0 { return "replaced: only main's default route is passed over (suppress_prefixlength 0)" }
        return "replaced: main's default route is passed over at priority \(priority) now, before every source rule"
    }

    func route(_ route: Route) -> String {
        if let m = interfaces.first(where: { $0.index == route.outputInterface }), let slot = slots[m.name], slot.table != route.table {
            return "\(m.name)'s source routing is in table \(slot.table) now"
        }
        if let m = interfaces.first(where: { slots[$0.name]?.table == route.table }) {
            if route.outputInterface != m.index { return "table \(route.table) is \(m.name)'s now" }
            return route.isDefault ? "replaced: \(m.name)'s gateway changed" : "\(m.name) no longer has an address the policy uses in this prefix"
        }
        let name = owned.tables.first { $0.value == route.table }?.key ?? network.link(route.outputInterface)?.name
        guard let name else { return "table \(route.table) is no longer used" }
        if !network.links.contains(where: { $0.name == name }) { return "\(name) is gone" }
        return "\(name) has no address the policy uses"
    }
}
