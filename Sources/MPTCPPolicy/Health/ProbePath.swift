import MPTCPKit

/// One path the daemon's health thread judges: an interface and a family, the
/// address its probes leave from, the router behind it and its settings. Built
/// per endpoint pass by `ProbePlan.paths` and handed to the health thread.
public struct ProbePath: Hashable, Sendable {
    public var key: PathKey
    public var interfaceIndex: Int32
    /// The address probes are sent from: the path's first used address.
    public var source: IPAddress
    /// Every used address of the path (its subflows' local addresses, for passive evidence).
    public var addresses: [IPAddress]
    /// The next hop of the path's default route (`GatewayFinder`, as source routing finds it); nil when none is known.
    public var gateway: IPAddress?
    /// The remote peers of the MPTCP connections this host opened (the `peers` target).
    public var peers: [IPAddress]
    public var settings: ProbeSettings

    public init(key: PathKey, interfaceIndex: Int32, source: IPAddress, addresses: [IPAddress], gateway: IPAddress?,
                peers: [IPAddress], settings: ProbeSettings) {
        self.key = key
        self.interfaceIndex = interfaceIndex
        self.source = source
        self.addresses = addresses
        self.gateway = gateway
        self.peers = peers
        self.settings = settings
    }

    /// Where the probes go: the settings' targets resolved for this path, in
    /// their order, each once. An address named by the gateway and by a far
    /// target is far, at its first place (see `ProbeDestination`).
    public var destinations: [ProbeDestination] {
        var resolved: [ProbeDestination] = []
        for d in settings.targets.flatMap({ $0.destinations(family: key.family, gateway: gateway, peers: peers) }) {
            if let i = resolved.firstIndex(of: d) {
                resolved[i].isNear = resolved[i].isNear && d.isNear
            } else {
                resolved.append(d)
            }
        }
        return resolved
    }
}

/// The paths to judge, from the policy and the network (pure).
public enum ProbePlan {
    /// At most this many peers are probed per path (the `peers` target): one
    /// aggregation server is the usual case; a busy client's hundred peers are not all worth a probe.
    public static let peerLimit = 4

    /// One path per interface and family that has a used address (the
    /// planner's, ignoring health: a `down` path stays probed, or it could
    /// never come back) and probing on (`Policy.probeSettings(for:)`), sorted
    /// by key. `peers` are the remote addresses of this host's connections; each
    /// path keeps those of its family, at most `peerLimit`.
    public static func paths(policy: Policy, network: NetworkSnapshot, peers: [IPAddress] = []) -> [ProbePath] {
        var excluded: [IPAddress: String] = [:]
        let used = Planner.desiredEndpoints(policy: policy, network: network, excluded: &excluded)
        var paths: [ProbePath] = []
        for m in ManagedInterface.from(used, policy: policy, network: network) {
            guard let settings = policy.probeSettings(for: m.name) else { continue }
            for family in [AddressFamily.ipv4, .ipv6] {
                let addresses = m.addresses.map(\.address).filter { policyFamily($0) == family }
                guard let source = addresses.first else { continue }
                let gateway = GatewayFinder.gateway(for: m, family: family, network: network)?.address
                var seen: Set<IPAddress> = []
                let own = peers.filter { policyFamily($0) == family && seen.insert($0).inserted }
                paths.append(ProbePath(key: PathKey(interface: m.name, family: family), interfaceIndex: m.index, source: source,
                                       addresses: addresses, gateway: gateway, peers: Array(own.prefix(peerLimit)),
                                       settings: settings))
            }
        }
        return paths.sorted { $0.key < $1.key }
    }
}
