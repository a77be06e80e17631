/// What the daemon and `doctor` need of rtnetlink routing. `RoutingTables`
/// adopts it; the daemon's tests fake it. Every call throws an `MPTCPError`
/// classified in MPTCPKit (`isExists`, `isNotFound`, `isUnreachable`, ...).
public protocol RoutingOperations: AnyObject {
    /// Every rule, IPv4 and IPv6 (`RTM_GETRULE` dumps).
    func rules() throws(MPTCPError) -> [RoutingRule]
    /// Every route of every table, IPv4 and IPv6 (`RTM_GETROUTE` dump).
    func routes() throws(MPTCPError) -> [Route]
    /// `RTM_NEWRULE` with `NLM_F_CREATE | NLM_F_EXCL`: an identical rule is refused (`isExists`).
    func add(_ rule: RoutingRule) throws(MPTCPError)
    /// `RTM_DELRULE`: a missing rule is refused (`isNotFound`).
    func delete(_ rule: RoutingRule) throws(MPTCPError)
    /// `RTM_NEWROUTE` with `NLM_F_CREATE | NLM_F_EXCL`: an existing route is refused (`isExists`).
    func add(_ route: Route) throws(MPTCPError)
    /// `RTM_DELROUTE`: a missing route is refused (`isNotFound`).
    func delete(_ route: Route) throws(MPTCPError)
    /// `RTM_GETROUTE` for one destination: the route the kernel would pick, with its table.
    func lookup(_ query: RouteQuery) throws(MPTCPError) -> Route
}

extension RoutingOperations {
    /// Every rule, or nil on a kernel without policy routing (built without
    /// `CONFIG_FIB_RULES`, it answers the rule dump with EOPNOTSUPP: `isNotSupported`).
    /// Any other failure is thrown.
    public func rulesIfSupported() throws(MPTCPError) -> [RoutingRule]? {
        do throws(MPTCPError) { return try rules() } catch let error where error.isNotSupported { return nil }
    }
}
