import MPTCPKit

/// What the daemon made of the namespace's routing, persisted by the daemon next
/// to its endpoints: adopted after a crash, given back at exit.
public struct RoutingOwnership: Hashable, Sendable, Codable {
    /// Interface name -> its source-routing table (the same number for both families).
    public var tables: [String: UInt32]
    public var rules: [OwnedRule]
    public var routes: [OwnedRoute]
    /// Interface name -> the rp_filter value found before the daemon changed it.
    public var reversePathFilter: [String: Int]

    public init(tables: [String: UInt32] = [:], rules: [OwnedRule] = [], routes: [OwnedRoute] = [],
                reversePathFilter: [String: Int] = [:]) {
        self.tables = tables
        self.rules = rules
        self.routes = routes
        self.reversePathFilter = reversePathFilter
    }

    public var isEmpty: Bool { tables.isEmpty && rules.isEmpty && routes.isEmpty && reversePathFilter.isEmpty }

    enum CodingKeys: String, CodingKey {
        case tables, rules, routes, reversePathFilter = "rp_filter"
    }
}

/// A rule the daemon made, as stored (addresses as text).
public struct OwnedRule: Hashable, Sendable, Codable {
    public var family: UInt16
    public var priority: UInt32
    public var source: String?
    public var sourcePrefixLength: UInt8
    public var table: UInt32
    /// The suppress rule's `suppress_prefixlength`; absent on source rules (and in records older than it).
    public var suppressPrefixLength: UInt32?

    public init(_ rule: RoutingRule) {
        family = rule.family
        priority = rule.priority
        source = rule.source?.description
        sourcePrefixLength = rule.sourcePrefixLength
        table = rule.table
        suppressPrefixLength = rule.suppressPrefixLength
    }

    /// The rule as the kernel knows it; nil when the stored text is no address.
    public var rule: RoutingRule? {
        var address: IPAddress?
        if let source {
            guard let a = IPAddress(source) else { return nil }
            address = a
        }
        return RoutingRule(family: family, priority: priority, source: address, sourcePrefixLength: sourcePrefixLength,
                           table: table, routingProtocol: RoutingProtocol.mptcpctl, suppressPrefixLength: suppressPrefixLength)
    }

    enum CodingKeys: String, CodingKey {
        case family, priority, source, sourcePrefixLength = "source_prefix_length", table
        case suppressPrefixLength = "suppress_prefix_length"
    }
}

/// A route the daemon made, as stored (addresses as text).
public struct OwnedRoute: Hashable, Sendable, Codable {
    public var family: UInt16
    public var table: UInt32
    public var destination: String?
    public var destinationPrefixLength: UInt8
    public var gateway: String?
    public var outputInterface: Int32
    public var preferredSource: String?
    public var scope: UInt8
    public var metric: UInt32?
    public var type: UInt8
    /// `on_link`: true for an on-link gateway; absent otherwise (and in records
    /// written before it existed, which decode as not on-link).
    public var onLink: Bool?

    public init(_ route: Route) {
        family = route.family
        table = route.table
        destination = route.destination?.description
        destinationPrefixLength = route.destinationPrefixLength
        gateway = route.gateway?.description
        outputInterface = route.outputInterface
        preferredSource = route.preferredSource?.description
        scope = route.scope
        metric = route.metric
        type = route.type
        onLink = route.onLink ? true : nil
    }

    /// The route as the kernel knows it; nil when a stored text is no address.
    public var route: Route? {
        func parse(_ text: String?) -> IPAddress?? {
            guard let text else { return .some(nil) }
            return IPAddress(text).map { .some($0) }
        }
        guard let destination = parse(destination), let gateway = parse(gateway),
              let preferredSource = parse(preferredSource) else { return nil }
        return Route(family: family, table: table, destination: destination, destinationPrefixLength: destinationPrefixLength,
                     gateway: gateway, outputInterface: outputInterface, preferredSource: preferredSource, scope: scope,
                     routingProtocol: RoutingProtocol.mptcpctl, metric: metric, type: type, onLink: onLink ?? false)
    }

    enum CodingKeys: String, CodingKey {
        case family, table, destination, destinationPrefixLength = "destination_prefix_length", gateway
        case outputInterface = "output_interface", preferredSource = "preferred_source", scope, metric, type, onLink = "on_link"
    }
}
