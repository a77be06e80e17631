/// `RoutingOperations` against the kernel: an rtnetlink socket in one namespace.
/// Not thread-safe: its owner serialises calls.
public final class RoutingTables: RoutingOperations {
    private let socket: NetlinkSocket

    /// Opens an rtnetlink socket in `namespace`.
    public init(namespace: NetworkNamespace = .current) throws(MPTCPError) {
        socket = try namespace.perform { () throws(MPTCPError) -> NetlinkSocket in try NetlinkSocket(protocol: NL.protoRoute) }
    }

    public func rules() throws(MPTCPError) -> [RoutingRule] { throw Self.notImplemented("list rules") }
    public func routes() throws(MPTCPError) -> [Route] { throw Self.notImplemented("list routes") }
    public func add(_ rule: RoutingRule) throws(MPTCPError) { throw Self.notImplemented("add rule") }
    public func delete(_ rule: RoutingRule) throws(MPTCPError) { throw Self.notImplemented("delete rule") }
    public func add(_ route: Route) throws(MPTCPError) { throw Self.notImplemented("add route") }
    public func delete(_ route: Route) throws(MPTCPError) { throw Self.notImplemented("delete route") }
    public func lookup(_ query: RouteQuery) throws(MPTCPError) -> Route { throw Self.notImplemented("look up route") }

    private static func notImplemented(_ operation: String) -> MPTCPError {
        MPTCPError(code: .system, operation: operation, detail: "not implemented yet")
    }
}
