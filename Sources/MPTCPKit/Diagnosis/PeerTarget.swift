/// `doctor --peer`'s argument: `ADDR`, `IPv4:PORT` or `[IPv6]:PORT`, and for a
/// link-local IPv6 address the link it is on, as a zone: `fe80::1%eth0` or
/// `[fe80::1%eth0]:80`. A link-local address names a host only together with its
/// link (every interface has fe80::/64), so one without a zone is refused.
public struct PeerTarget: Hashable, Sendable {
    public var endpoint: AddressAndPort
    /// The interface (name, or index in digits) a link-local peer is reached on.
    public var zone: String?

    public init(endpoint: AddressAndPort, zone: String? = nil) {
        self.endpoint = endpoint
        self.zone = zone
    }

    /// Why a `--peer` argument was refused: one line for the user.
    public struct Problem: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Parses the argument; the problem says what is wrong and the form expected.
    public init(parsing text: String) throws(Problem) {
        let form = "expected ADDR, ADDR:PORT (10.0.1.2:443), [IPv6]:PORT ([2001:db8::2]:443) or, for a link-local "
            + "address, ADDR%IFACE ([fe80::2%eth0]:443), port 1-65535"
        var plain = text
        var zone: String?
        if let percent = text.firstIndex(of: "%") {
            let after = text[text.index(after: percent)...]
            let name = after.prefix { $0 != "]" }
            guard !name.isEmpty, name.utf8.count <= 15, !name.contains(where: { $0 == "/" || $0 == ":" || $0 == "%" || $0.isWhitespace })
            else { throw Problem(description: "\"\(name)\" is not an interface name (after %)") }
            zone = String(name)
            plain = String(text[..<percent]) + String(after.dropFirst(name.count))
        }
        guard let endpoint = AddressAndPort(parsing: plain) else { throw Problem(description: form) }
        let linkLocal = endpoint.address.isIPv6LinkLocal
        if zone != nil && !linkLocal {
            throw Problem(description: "\(endpoint.address) is not link-local (fe80::/10): a %zone only goes with a link-local "
                          + "IPv6 address; write it without one")
        }
        if zone == nil && linkLocal {
            let spelled = endpoint.port == 0 ? "\(endpoint.address)%IFACE" : "[\(endpoint.address)%IFACE]:\(endpoint.port)"
            throw Problem(description: "\(endpoint.address) is link-local: every interface has fe80::/64, so say which link "
                          + "the peer is on with a zone, \(spelled) (IFACE: the interface it is reached by)")
        }
        self.init(endpoint: endpoint, zone: zone)
    }

    /// The interface index the zone names in `network` (by name, or digits naming an
    /// index it has); nil without a zone. Throws when no such interface exists.
    public func interfaceIndex(in network: NetworkSnapshot) throws(Problem) -> Int32? {
        guard let zone else { return nil }
        if let link = network.links.first(where: { $0.name == zone }) { return link.index }
        if let index = Int32(zone), network.link(index) != nil { return index }
        throw Problem(description: "%\(zone): no interface \(zone) in this namespace")
    }
}
