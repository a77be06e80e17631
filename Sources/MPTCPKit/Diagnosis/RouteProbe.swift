/// One answer of the kernel's route lookup (`RTM_GETROUTE`): the route a packet
/// from `source` to `destination` would take, bound to `outputInterface` as a
/// subflow from an endpoint with `dev` is.
public struct RouteProbe: Hashable, Sendable {
    public var source: IPAddress
    public var destination: IPAddress
    /// The interface binding asked for; nil: unbound (what the reverse-path filter looks up).
    public var outputInterface: Int32?
    public var outcome: Result<Route, MPTCPError>

    public init(source: IPAddress, destination: IPAddress, outputInterface: Int32?, outcome: Result<Route, MPTCPError>) {
        self.source = source
        self.destination = destination
        self.outputInterface = outputInterface
        self.outcome = outcome
    }

    /// The route found; nil when the kernel has none.
    public var route: Route? { try? outcome.get() }
}

extension Array where Element == RouteProbe {
    /// The probe from `source` to `destination` with that binding.
    public func probe(from source: IPAddress, to destination: IPAddress, boundTo interface: Int32?) -> RouteProbe? {
        first { $0.source == source && $0.destination == destination && $0.outputInterface == interface }
    }
}
