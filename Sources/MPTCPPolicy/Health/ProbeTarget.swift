import MPTCPKit

/// One entry of `targets`: where a path's probes go.
///
/// Addresses only, no host names: the daemon must not depend on name
/// resolution to judge whether a path works (the resolver may sit behind the
/// broken path). Encoded as its text form (`"192.0.2.1"`, `"[2001:db8::1]:443"`,
/// `"gateway"`, `"peers"`) since `IPAddress` is not Codable.
public enum ProbeTarget: Hashable, Sendable, Codable, CustomStringConvertible {
    /// ICMP echo to this address.
    case echo(IPAddress)
    /// A TCP connect to this address and port (for networks that drop ICMP);
    /// connected or refused both prove the path carries packets both ways.
    case connect(IPAddress, port: UInt16)
    /// The gateway of the path's default route (ICMP echo).
    case gateway
    /// The remote peers of the MPTCP connections using the path (ICMP echo).
    case peers

    /// Parses `ADDRESS`, `IPv4:PORT`, `[IPv6]:PORT`, `gateway` or `peers`; nil otherwise.
    public init?(_ text: String) {
        switch text {
        case "gateway": self = .gateway
        case "peers": self = .peers
        default:
            guard let parsed = AddressAndPort(parsing: text) else { return nil }
            self = parsed.port == 0 ? .echo(parsed.address) : .connect(parsed.address, port: parsed.port)
        }
    }

    /// The text form, as written in the policy.
    public var description: String {
        switch self {
        case .echo(let address): return address.description
        case .connect(let address, let port): return AddressAndPort(address: address, port: port).description
        case .gateway: return "gateway"
        case .peers: return "peers"
        }
    }

    /// The address a literal target names (nil for `gateway` and `peers`).
    public var address: IPAddress? {
        switch self {
        case .echo(let address), .connect(let address, _): return address
        case .gateway, .peers: return nil
        }
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let target = ProbeTarget(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a probe target: \(text)"))
        }
        self = target
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
