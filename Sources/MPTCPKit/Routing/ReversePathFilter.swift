import Glibc

/// Reverse-path filtering (`net.ipv4.conf.*.rp_filter`, IPv4 only): 0 off,
/// 1 strict, 2 loose. The kernel applies `max(conf.all, conf.IFNAME)`, so a
/// strict `all` makes every interface strict. Read and written inside the
/// sysctl's namespace, as the MPTCP sysctls are.
extension MPTCPSysctl {
    /// `net.ipv4.conf.IFNAME.rp_filter`. An interface name that is not a plain
    /// name is refused; one the namespace lacks is `.notFound`.
    public func reversePathFilter(interface: String) throws(MPTCPError) -> Int {
        let operation = "read net.ipv4.conf.\(interface).rp_filter"
        let path = try Self.reversePathFilterFile(interface, operation)
        return try namespace.perform { () throws(MPTCPError) -> Int in
            try Self.reversePathFilterValue(try Self.readFile(path, operation: operation,
                                                              missing: Self.noInterface(interface, operation)), operation)
        }
    }

    /// Writes `net.ipv4.conf.IFNAME.rp_filter`: 0, 1 or 2; anything else is refused
    /// before anything is written.
    public func setReversePathFilter(_ value: Int, interface: String) throws(MPTCPError) {
        let operation = "write net.ipv4.conf.\(interface).rp_filter = \(value)"
        let path = try Self.reversePathFilterFile(interface, operation)
        guard (0...2).contains(value) else {
            throw .invalidArgument(operation, "rp_filter is 0 (off), 1 (strict) or 2 (loose), not \(value)")
        }
        try namespace.perform { () throws(MPTCPError) in
            try Self.writeFile(path, String(value), operation: operation, missing: Self.noInterface(interface, operation))
        }
    }

    /// `net.ipv4.conf.all.rp_filter`.
    public func reversePathFilterAll() throws(MPTCPError) -> Int {
        try reversePathFilter(interface: "all")
    }

    /// Whether `name` can name an interface's directory under `/proc/sys/net/ipv4/conf`:
    /// 1 to 15 bytes (`IFNAMSIZ`), no '/', no white space, not "." or "..".
    public static func isPlainInterfaceName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count < 16 && name != "." && name != ".."
            && !name.utf8.contains { $0 == UInt8(ascii: "/") || $0 <= 0x20 || $0 == 0x7f }
    }

    private static func reversePathFilterFile(_ interface: String, _ operation: String) throws(MPTCPError) -> String {
        guard isPlainInterfaceName(interface) else {
            throw .invalidArgument(operation, "'\(interface)' is not an interface name")
        }
        return "/proc/sys/net/ipv4/conf/\(interface)/rp_filter"
    }

    private static func noInterface(_ interface: String, _ operation: String) -> MPTCPError {
        .notFound(operation, "no interface named '\(interface)' in this namespace (or no IPv4 on it)", errno: ENOENT)
    }

    private static func reversePathFilterValue(_ text: String, _ operation: String) throws(MPTCPError) -> Int {
        guard let value = Int(text) else { throw .protocolViolation(operation, "'\(text)' is not a number") }
        return value
    }
}
