import MPTCPKit

/// What makes two routes the same route for the planner: the metric is left out
/// (the kernel gives IPv6 routes 1024 when none is set) and so is the scope of an
/// IPv6 route (IPv6 has none; dumps say universe whatever was asked).
struct RouteIdentity: Hashable, Sendable {
    var family: UInt16
    var table: UInt32
    var destination: IPAddress?
    var destinationPrefixLength: UInt8
    var gateway: IPAddress?
    var outputInterface: Int32
    var preferredSource: IPAddress?
    var scope: UInt8
    var type: UInt8
    /// A gateway taken as on the link (`onlink`) is another route than the same
    /// gateway reached through a connected route: a change of either is a replacement.
    var onLink: Bool

    init(_ r: Route) {
        family = r.family
        table = r.table
        destinationPrefixLength = r.isDefault ? 0 : r.destinationPrefixLength
        destination = r.isDefault ? nil : r.destination
        gateway = r.gateway
        outputInterface = r.outputInterface
        preferredSource = r.preferredSource
        scope = r.family == kernelFamilyIPv4 ? r.scope : Route.scopeUniverse
        type = r.type
        onLink = r.onLink
    }
}

/// What makes two rules the same rule for the planner (who made it is not part of it).
struct RuleIdentity: Hashable, Sendable {
    var family: UInt16
    var priority: UInt32
    var source: IPAddress?
    var sourcePrefixLength: UInt8
    var table: UInt32
    var suppressPrefixLength: UInt32?

    init(_ r: RoutingRule) {
        family = r.family
        priority = r.priority
        source = r.source
        sourcePrefixLength = r.sourcePrefixLength
        table = r.table
        suppressPrefixLength = r.suppressPrefixLength
    }
}

extension Route {
    /// Made by mptcpctld.
    var isOurs: Bool { routingProtocol == RoutingProtocol.mptcpctl }

    /// `default via 10.2.1.1 dev eth2 table 7301`, `10.2.1.0/24 dev eth2 src 10.2.1.2 table 7301`,
    /// `default via 10.9.0.1 dev eth0 onlink table 7300`.
    func summary(_ network: NetworkSnapshot) -> String {
        var s = isDefault ? "default" : "\(destination.map(\.description) ?? "?")/\(destinationPrefixLength)"
        if let gateway { s += " via \(gateway)" }
        s += " dev " + (network.link(outputInterface)?.name ?? "if\(outputInterface)")
        if onLink { s += " onlink" }
        if let preferredSource { s += " src \(preferredSource)" }
        return s + " table \(table)"
    }
}

extension RoutingRule {
    /// Made by mptcpctld.
    var isOurs: Bool { routingProtocol == RoutingProtocol.mptcpctl }

    /// The rule that passes over main's default route (any `suppress_prefixlength` into main, from all).
    var isMainWithoutDefault: Bool { source == nil && table == RoutingRule.mainTable && suppressPrefixLength != nil }

    /// `from 10.2.1.2 lookup 7301 priority 7300`, `from all lookup main suppress_prefixlength 0 priority 7300`.
    var summary: String {
        let suppress = suppressPrefixLength.map { " suppress_prefixlength \($0)" } ?? ""
        let lookup = table == RoutingRule.mainTable ? "main" : "\(table)"
        return "from " + (source.map { "\($0)/\(sourcePrefixLength)" } ?? "all") + " lookup \(lookup)\(suppress) priority \(priority)"
    }
}
