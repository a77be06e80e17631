/// Reverse-path filtering (`net.ipv4.conf.*.rp_filter`, IPv4 only): 0 off,
/// 1 strict, 2 loose. The kernel applies `max(conf.all, conf.IFNAME)`.
extension MPTCPSysctl {
    /// `net.ipv4.conf.IFNAME.rp_filter`.
    public func reversePathFilter(interface: String) throws(MPTCPError) -> Int {
        throw MPTCPError(code: .system, operation: "read rp_filter of \(interface)", detail: "not implemented yet")
    }

    /// Writes `net.ipv4.conf.IFNAME.rp_filter`.
    public func setReversePathFilter(_ value: Int, interface: String) throws(MPTCPError) {
        throw MPTCPError(code: .system, operation: "set rp_filter of \(interface)", detail: "not implemented yet")
    }

    /// `net.ipv4.conf.all.rp_filter`.
    public func reversePathFilterAll() throws(MPTCPError) -> Int {
        throw MPTCPError(code: .system, operation: "read rp_filter of all", detail: "not implemented yet")
    }
}
