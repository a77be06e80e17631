import MPTCPKit

/// What the running kernel offers, for the checks that depend on it.
public struct KernelOffer: Hashable, Sendable {
    public var pathManagers: [String]
    public var schedulers: [String]
    /// The namespace's routing rules (both families), when they could be read:
    /// `routing.priorities` must not hold rules mptcpctld did not make.
    public var rules: [RoutingRule]?
    /// The namespace's routes (every table), when they could be read:
    /// `routing.tables` must leave a free table per managed interface.
    public var routes: [Route]?

    public init(pathManagers: [String], schedulers: [String], rules: [RoutingRule]? = nil, routes: [Route]? = nil) {
        self.pathManagers = pathManagers
        self.schedulers = schedulers
        self.rules = rules
        self.routes = routes
    }
}
