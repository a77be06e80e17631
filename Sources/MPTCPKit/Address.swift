import Glibc

/// An IPv4 or IPv6 address, stored in network byte order.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible, Comparable {
    case v4([UInt8])
    case v6([UInt8])

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (`inet_pton`). Returns nil
    /// for anything else, including an IPv6 address in brackets or with a zone.
    public init?(_ text: String) {
        if text.contains(":") {
            var raw = in6_addr()
            guard inet_pton(AF_INET6, text, &raw) == 1 else { return nil }
            self = .v6(withUnsafeBytes(of: &raw) { Array($0) })
        } else {
            var raw = in_addr()
            guard inet_pton(AF_INET, text, &raw) == 1 else { return nil }
            self = .v4(withUnsafeBytes(of: &raw) { Array($0) })
        }
    }

    /// Builds an address from raw network-order bytes: 4 for IPv4, 16 for IPv6.
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4: self = .v4(bytes)
        case 16: self = .v6(bytes)
        default: return nil
        }
    }

    /// The address bytes in network order.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let b), .v6(let b): return b
        }
    }

    /// `AF_INET` or `AF_INET6`.
    public var family: UInt16 {
        switch self {
        case .v4: return AddressFamily.inet
        case .v6: return AddressFamily.inet6
        }
    }

    public var isIPv4: Bool { if case .v4 = self { return true } else { return false } }
    /// fe80::/10: usable only on its own link; a sockaddr_in6 needs the interface as scope.
    public var isIPv6LinkLocal: Bool {
        guard case .v6(let b) = self else { return false }
        return b[0] == 0xfe && b[1] & 0xc0 == 0x80
    }

    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as its IPv4 address; any other unchanged.
    public var unmapped: IPAddress {
        if case .v6(let b) = self, b[0..<10].allSatisfy({ $0 == 0 }), b[10] == 0xff, b[11] == 0xff {
            return .v4(Array(b[12..<16]))
        }
        return self
    }

    /// True for 0.0.0.0 and ::.
    public var isUnspecified: Bool { bytes.allSatisfy { $0 == 0 } }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: 64)
        let family = isIPv4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        guard ok else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        if lhs.bytes.count != rhs.bytes.count { return lhs.bytes.count < rhs.bytes.count }
        return lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }
}

/// An address with an optional port, as written on command lines:
/// `10.0.0.1`, `10.0.0.1:80`, `2001:db8::1`, `[2001:db8::1]:80`.
public struct AddressAndPort: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    /// 0 when no port was given.
    public var port: UInt16

    public init(address: IPAddress, port: UInt16 = 0) {
        self.address = address
        self.port = port
    }

    /// Parses `ADDR`, `IPv4:PORT` or `[IPv6]:PORT`; nil when it is none of these.
    public init?(parsing text: String) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let inner = String(text[text.index(after: text.startIndex)..<close])
            guard let address = IPAddress(inner), address.isIPv4 == false else { return nil }
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { self.init(address: address); return }
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()), port > 0 else { return nil }
            self.init(address: address, port: port)
            return
        }
        if let address = IPAddress(text) {
            self.init(address: address)
            return
        }
        // IPv4:PORT (an IPv6 address with a port must use brackets).
        guard let colon = text.lastIndex(of: ":"), text.filter({ $0 == ":" }).count == 1,
              let address = IPAddress(String(text[..<colon])), address.isIPv4,
              let port = UInt16(text[text.index(after: colon)...]), port > 0
        else { return nil }
        self.init(address: address, port: port)
    }

    public var description: String {
        guard port != 0 else { return address.description }
        return address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }
}
