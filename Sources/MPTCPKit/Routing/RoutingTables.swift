import Glibc

/// `RoutingOperations` against the kernel: an rtnetlink socket opened in one
/// namespace, through which every routing request goes (`request`, the one
/// funnel that classifies the kernel's refusals). Not thread-safe: its owner
/// serialises calls.
public final class RoutingTables: RoutingOperations {
    private let socket: NetlinkSocket

    /// Opens an rtnetlink socket in `namespace`.
    public init(namespace: NetworkNamespace = .current) throws(MPTCPError) {
        socket = try namespace.perform { () throws(MPTCPError) -> NetlinkSocket in try NetlinkSocket(protocol: NL.protoRoute) }
    }

    /// Every IPv4 and IPv6 rule (`RTM_GETRULE` dump for `AF_UNSPEC`), in the kernel's order.
    public func rules() throws(MPTCPError) -> [RoutingRule] {
        let operation = "list routing rules"
        let messages = try request(RT.getRule, flags: NL.fDump, payload: [UInt8](repeating: 0, count: 12), operation)
        return try decode(operation) { () throws(DecodeError) -> [RoutingRule] in
            var rules: [RoutingRule] = []
            for m in messages where m.type == RT.newRule {
                if let rule = try RouteNetlinkDecoder.rule(m) { rules.append(rule) }
            }
            return rules
        }
    }

    /// Every IPv4 and IPv6 route of every table, of every type (`RTM_GETROUTE`
    /// dump for `AF_UNSPEC`); a multipath route once per next hop.
    public func routes() throws(MPTCPError) -> [Route] {
        let operation = "list routes"
        let messages = try request(RT.getRoute, flags: NL.fDump, payload: [UInt8](repeating: 0, count: 12), operation)
        return try decode(operation) { () throws(DecodeError) -> [Route] in
            var routes: [Route] = []
            for m in messages where m.type == RT.newRoute { routes += try RouteNetlinkDecoder.routes(m) }
            return routes
        }
    }

    /// `RTM_NEWRULE` with `NLM_F_CREATE | NLM_F_EXCL`: an identical rule is refused (`isExists`).
    public func add(_ rule: RoutingRule) throws(MPTCPError) {
        let operation = "add rule \(Self.describe(rule))"
        if let problem = RoutingRequest.problem(with: rule) { throw .invalidArgument(operation, problem) }
        _ = try request(RT.newRule, flags: NL.fCreate | NL.fExclusive, payload: RoutingRequest.rule(rule), operation)
    }

    /// `RTM_DELRULE` of the rule with this source, priority, table and protocol:
    /// a missing one is refused (`isNotFound`).
    public func delete(_ rule: RoutingRule) throws(MPTCPError) {
        let operation = "delete rule \(Self.describe(rule))"
        if let problem = RoutingRequest.problem(with: rule) { throw .invalidArgument(operation, problem) }
        _ = try request(RT.delRule, flags: 0, payload: RoutingRequest.rule(rule), operation)
    }

    /// `RTM_NEWROUTE` with `NLM_F_CREATE | NLM_F_EXCL`: an existing route is
    /// refused (`isExists`). An IPv6 route without a metric gets the kernel's 1024.
    public func add(_ route: Route) throws(MPTCPError) {
        let operation = "add route \(Self.describe(route))"
        if let problem = RoutingRequest.problem(with: route) { throw .invalidArgument(operation, problem) }
        _ = try request(RT.newRoute, flags: NL.fCreate | NL.fExclusive, payload: RoutingRequest.route(route), operation)
    }

    /// `RTM_DELROUTE` of the route with these fields: a missing one (or a
    /// missing table) is refused (`isNotFound`).
    public func delete(_ route: Route) throws(MPTCPError) {
        let operation = "delete route \(Self.describe(route))"
        if let problem = RoutingRequest.problem(with: route) { throw .invalidArgument(operation, problem) }
        _ = try request(RT.delRoute, flags: 0, payload: RoutingRequest.route(route), operation)
    }

    /// `RTM_GETROUTE` for `query`: the route the kernel would pick for a packet
    /// to its destination (from its source, out of its interface), with the table
    /// that held it. No route (and, for IPv4, a source that is not this host's)
    /// is `isUnreachable` (ENETUNREACH, EHOSTUNREACH); a source that cannot send
    /// (multicast, 0.0.0.0/8: EINVAL) is `.invalidArgument`; an interface that
    /// does not exist is ENODEV.
    public func lookup(_ query: RouteQuery) throws(MPTCPError) -> Route {
        var operation = "look up the route to \(query.destination)"
        if let source = query.source { operation += " from \(source)" }
        if let oif = query.outputInterface { operation += " out of interface \(oif)" }
        if let problem = RoutingRequest.problem(with: query) { throw .invalidArgument(operation, problem) }
        let replies = try request(RT.getRoute, flags: 0, payload: RoutingRequest.lookup(query), operation)
        let routes = try decode(operation) { () throws(DecodeError) -> [Route] in
            var routes: [Route] = []
            for m in replies where m.type == RT.newRoute { routes += try RouteNetlinkDecoder.routes(m) }
            return routes
        }
        guard let route = routes.first else { throw .protocolViolation(operation, "the kernel answered without a route") }
        return route
    }

    /// The funnel: one request and its replies; the kernel's refusals classified
    /// (a delete of something missing — ENOENT for a rule, ESRCH for a route or
    /// table — is `.notFound`; EINVAL of a lookup is `.invalidArgument`).
    private func request(_ type: UInt16, flags: UInt16, payload: [UInt8], _ operation: String) throws(MPTCPError) -> [NetlinkMessage] {
        do throws(MPTCPError) {
            return try socket.transact(type: Int32(type), flags: flags, genlCommand: nil, payload: payload, operation: operation)
        } catch {
            var classified = error
            guard error.code == .kernel, let errno = error.errno else { throw error }
            switch (type, errno) {
            case (RT.delRule, ENOENT), (RT.delRoute, ESRCH):
                classified.code = .notFound
            case (RT.getRoute, EINVAL) where flags & NL.fDump == 0:
                classified.code = .invalidArgument
                classified.hint = "a multicast, broadcast or 0.0.0.0/8 source cannot send"
            case (RT.getRule, EOPNOTSUPP), (RT.newRule, EOPNOTSUPP), (RT.delRule, EOPNOTSUPP):
                classified.hint = "this kernel has no policy routing (built without CONFIG_FIB_RULES)"
            case (RT.getRoute, ENETUNREACH), (RT.getRoute, EHOSTUNREACH):
                classified.hint = "no route leads there from this source (no table the rules choose has one), or the source is not an address of this host"
            default:
                break
            }
            throw classified
        }
    }

    /// "from 10.0.1.1/32 lookup 1001 priority 1001 proto 242", as `ip rule` says it.
    static func describe(_ rule: RoutingRule) -> String {
        let from = rule.source.map { "\($0)/\(rule.sourcePrefixLength)" } ?? "all"
        return "from \(from) lookup \(rule.table) priority \(rule.priority) proto \(rule.routingProtocol)"
    }

    /// "default via 10.0.1.254 dev 3 onlink table 1001", as `ip route` says it (with interface indexes).
    static func describe(_ route: Route) -> String {
        var text = route.destination.map { "\($0)/\(route.destinationPrefixLength)" } ?? "default"
        if let gateway = route.gateway { text += " via \(gateway)" }
        if route.outputInterface != 0 { text += " dev \(route.outputInterface)" }
        if route.onLink { text += " onlink" }
        if let source = route.preferredSource { text += " src \(source)" }
        text += " table \(route.table)"
        if let metric = route.metric { text += " metric \(metric)" }
        return text
    }
}
