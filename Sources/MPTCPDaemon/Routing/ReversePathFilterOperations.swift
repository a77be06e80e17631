import MPTCPKit

/// The rp_filter sysctls the routing owner reads and writes
/// (`net.ipv4.conf.*.rp_filter`): `MPTCPSysctl` adopts it, unit tests fake it.
protocol ReversePathFilterOperations: Sendable {
    /// `net.ipv4.conf.INTERFACE.rp_filter` (0 off, 1 strict, 2 loose).
    func reversePathFilter(interface: String) throws(MPTCPError) -> Int
    /// Writes `net.ipv4.conf.INTERFACE.rp_filter`.
    func setReversePathFilter(_ value: Int, interface: String) throws(MPTCPError)
    /// `net.ipv4.conf.all.rp_filter` (the kernel applies the larger of it and the interface's).
    func reversePathFilterAll() throws(MPTCPError) -> Int
}

extension MPTCPSysctl: ReversePathFilterOperations {}
