import MPTCPKit

/// One resolved probe target of one path: what a probe is actually sent to
/// (`gateway` and `peers` resolved to addresses by the daemon).
public struct ProbeDestination: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    /// The TCP port of a connect probe; nil for ICMP echo.
    public var port: UInt16?

    public init(address: IPAddress, port: UInt16? = nil) {
        self.address = address
        self.port = port
    }

    /// `192.0.2.1` (echo) or `[2001:db8::1]:443` (connect).
    public var description: String {
        guard let port else { return address.description }
        return AddressAndPort(address: address, port: port).description
    }
}

extension ProbeTarget {
    /// What this target means for one path of `family`, given the path's
    /// gateway and the remote peers of its connections; addresses of the
    /// other family are left out (a probe must leave by the path's own address).
    public func destinations(family: AddressFamily, gateway: IPAddress?, peers: [IPAddress]) -> [ProbeDestination] {
        let wanted = { (a: IPAddress) in a.isIPv4 == (family == .ipv4) }
        switch self {
        case .echo(let a): return wanted(a) ? [ProbeDestination(address: a)] : []
        case .connect(let a, let port): return wanted(a) ? [ProbeDestination(address: a, port: port)] : []
        case .gateway: return gateway.map { wanted($0) ? [ProbeDestination(address: $0)] : [] } ?? []
        case .peers: return peers.filter(wanted).map { ProbeDestination(address: $0) }
        }
    }
}
