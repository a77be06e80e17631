/// Where `doctor` asks the kernel to route subflows to: the peer (`--peer`), or
/// a documentation address per family (TEST-NET 192.0.2.1, 2001:db8::1, or the
/// next documentation network when that one is on a link here) standing in for
/// "somewhere beyond this host's links": it checks that a route leaves by the
/// right interface, not that it is the one a particular peer gets.
public struct DiagnosisDestinations: Hashable, Sendable {
    /// The peer given with `--peer`.
    public var peer: AddressAndPort?
    public var standInIPv4: IPAddress
    public var standInIPv6: IPAddress

    /// Documentation addresses (RFC 5737, RFC 3849), in the order they are tried.
    static let candidatesIPv4 = ["192.0.2.1", "198.51.100.1", "203.0.113.1"].compactMap(IPAddress.init)
    static let candidatesIPv6 = ["2001:db8::1", "2001:db8:ffff::1"].compactMap(IPAddress.init)

    public init(peer: AddressAndPort?) {
        self.peer = peer
        standInIPv4 = Self.candidatesIPv4[0]
        standInIPv6 = Self.candidatesIPv6[0]
    }

    /// These destinations with stand-ins that are on no link of `network` (a host in
    /// 192.0.2.0/24 gets 198.51.100.1), so the lookup goes beyond the links.
    public func avoiding(_ network: NetworkSnapshot) -> DiagnosisDestinations {
        func offLink(_ candidates: [IPAddress]) -> IPAddress? {
            candidates.first { c in
                !network.addresses.contains { RouteVerdict.sharePrefix($0.address.bytes, c.bytes, Int($0.prefixLength)) }
            }
        }
        var result = self
        result.standInIPv4 = offLink(Self.candidatesIPv4) ?? standInIPv4
        result.standInIPv6 = offLink(Self.candidatesIPv6) ?? standInIPv6
        return result
    }

    /// Whether the destinations stand in for a peer (no `--peer`).
    public var areStandIns: Bool { peer == nil }

    /// The destination for subflows from `source`; nil when the peer is of the other family
    /// (no subflow from that address reaches it, unless the peer announces one of its family).
    public func destination(from source: IPAddress) -> IPAddress? {
        if let peer { return peer.address.isIPv4 == source.isIPv4 ? peer.address : nil }
        return source.isIPv4 ? standInIPv4 : standInIPv6
    }
}
