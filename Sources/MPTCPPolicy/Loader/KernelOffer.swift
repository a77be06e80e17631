/// What the running kernel offers, for the checks that depend on it.
public struct KernelOffer: Hashable, Sendable {
    public var pathManagers: [String]
    public var schedulers: [String]

    public init(pathManagers: [String], schedulers: [String]) {
        self.pathManagers = pathManagers
        self.schedulers = schedulers
    }
}
