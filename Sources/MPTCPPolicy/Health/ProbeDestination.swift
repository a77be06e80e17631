import MPTCPKit

/// One resolved probe target of one path: what a probe is actually sent to
/// (`gateway` and `peers` resolved to addresses by the daemon).
///
/// **Identity** is where the probe goes: address and port. `isNear` is what
/// the resolution learnt about that place, not part of it: `==` and `hash`
/// ignore it, so a target's answers (`PathHealth.hasAnswered`) stay its own
/// when its role changes, and one address is probed once however many targets
/// name it. Where the same address is both the gateway and a far target (a
/// peer, or a configured target), it is far (`ProbePath.destinations`): it is
/// the end the traffic or the user aims at, and when the gateway is itself the
/// peer there is nothing beyond it that could be broken.
public struct ProbeDestination: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    /// The TCP port of a connect probe; nil for ICMP echo.
    public var port: UInt16?
    /// Near: the path's next hop (the `gateway` target). Its answers prove the
    /// link and the router, not the path beyond it: a router (or an LTE modem)
    /// can answer pings while it drops everything it forwards. Far: anything
    /// reached through the router (`peers`, configured addresses). See
    /// `PathHealth` for how the two are combined.
    public var isNear: Bool

    public init(address: IPAddress, port: UInt16? = nil, isNear: Bool = false) {
        self.address = address
        self.port = port
        self.isNear = isNear
    }

    /// `192.0.2.1` (echo) or `[2001:db8::1]:443` (connect).
    public var description: String {
        guard let port else { return address.description }
        return AddressAndPort(address: address, port: port).description
    }

    /// Equal when a probe goes to the same place (`isNear` aside, see above).
    public static func == (a: ProbeDestination, b: ProbeDestination) -> Bool {
        a.address == b.address && a.port == b.port
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(address)
        hasher.combine(port)
    }
}

extension ProbeTarget {
    /// What this target means for one path of `family`, given the path's
    /// gateway and the remote peers of its connections; addresses of the
    /// other family are left out (a probe must leave by the path's own address).
    /// The gateway's destination is near, every other far.
    public func destinations(family: AddressFamily, gateway: IPAddress?, peers: [IPAddress]) -> [ProbeDestination] {
        let wanted = { (a: IPAddress) in a.isIPv4 == (family == .ipv4) }
        switch self {
        case .echo(let a): return wanted(a) ? [ProbeDestination(address: a)] : []
        case .connect(let a, let port): return wanted(a) ? [ProbeDestination(address: a, port: port)] : []
        case .gateway: return gateway.map { wanted($0) ? [ProbeDestination(address: $0, isNear: true)] : [] } ?? []
        case .peers: return peers.filter(wanted).map { ProbeDestination(address: $0) }
        }
    }
}
