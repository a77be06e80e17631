/// Where `doctor` asks the kernel to route subflows to: the peer (`--peer`), or
/// a documentation address per family (TEST-NET-1 192.0.2.1, 2001:db8::1) standing
/// for "somewhere beyond this host's links", which checks that a route exists but
/// not that it is the one a particular peer gets.
public struct DiagnosisDestinations: Hashable, Sendable {
    /// The peer given with `--peer`.
    public var peer: AddressAndPort?

    public static let standInIPv4 = IPAddress("192.0.2.1")!
    public static let standInIPv6 = IPAddress("2001:db8::1")!

    public init(peer: AddressAndPort?) { self.peer = peer }

    /// Whether the destinations stand in for a peer (no `--peer`).
    public var areStandIns: Bool { peer == nil }

    /// The destination for subflows from `source`; nil when the peer is of the other family
    /// (no subflow from that address reaches it, unless the peer announces one of its family).
    public func destination(from source: IPAddress) -> IPAddress? {
        if let peer { return peer.address.isIPv4 == source.isIPv4 ? peer.address : nil }
        return source.isIPv4 ? Self.standInIPv4 : Self.standInIPv6
    }
}
