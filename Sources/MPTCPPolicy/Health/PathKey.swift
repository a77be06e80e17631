/// One path whose health is judged: an interface and an address family
/// (IPv4 and IPv6 on one uplink can fail apart: different routers, a broken
/// tunnel for one family).
public struct PathKey: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public var interface: String
    public var family: AddressFamily

    public init(interface: String, family: AddressFamily) {
        self.interface = interface
        self.family = family
    }

    /// `eth1/ipv4`, for logs and messages.
    public var description: String { "\(interface)/\(family.rawValue)" }

    public static func < (lhs: PathKey, rhs: PathKey) -> Bool {
        (lhs.interface, lhs.family.rawValue) < (rhs.interface, rhs.family.rawValue)
    }
}
