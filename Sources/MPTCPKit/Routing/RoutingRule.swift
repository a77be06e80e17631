/// A policy-routing rule (`ip rule`): `RTM_NEWRULE`, a `struct fib_rule_hdr`
/// followed by `FRA_*` attributes. Only what source routing needs is modelled:
/// "from SOURCE/LENGTH lookup TABLE at PRIORITY", optionally passing over the
/// table's routes of a prefix length up to N (`suppress_prefixlength N`), and who made it.
public struct RoutingRule: Hashable, Sendable {
    /// `AF_INET` or `AF_INET6`.
    public var family: UInt16
    /// `FRA_PRIORITY`: rules are tried in increasing order.
    public var priority: UInt32
    /// `FRA_SRC`; nil matches every source ("from all").
    public var source: IPAddress?
    /// `src_len` of the header: 32 (IPv4) or 128 (IPv6) for one address.
    public var sourcePrefixLength: UInt8
    /// `FRA_TABLE` (also for tables above 255, which the header's u8 cannot hold).
    public var table: UInt32
    /// `FRA_PROTOCOL`: who made the rule; `RoutingProtocol.mptcpctl` on the daemon's.
    public var routingProtocol: UInt8
    /// `FRA_SUPPRESS_PREFIXLEN`: a route the table picks whose prefix is this long
    /// or shorter is passed over (0: only the default route), and the next rule
    /// decides. nil: none (the kernel's -1, which dumps list as 0xffffffff).
    public var suppressPrefixLength: UInt32?

    /// `RT_TABLE_MAIN`: the table the main rule (32766) and a suppress rule look up.
    public static let mainTable: UInt32 = Route.tableMain

    public init(family: UInt16, priority: UInt32, source: IPAddress?, sourcePrefixLength: UInt8? = nil,
                table: UInt32, routingProtocol: UInt8 = RoutingProtocol.mptcpctl, suppressPrefixLength: UInt32? = nil) {
        self.family = family
        self.priority = priority
        self.source = source
        self.sourcePrefixLength = sourcePrefixLength ?? (source.map { $0.isIPv4 ? 32 : 128 } ?? 0)
        self.table = table
        self.routingProtocol = routingProtocol
        self.suppressPrefixLength = suppressPrefixLength
    }

    /// A rule that sends traffic from `address` (a full-length prefix) to `table`.
    public init(from address: IPAddress, table: UInt32, priority: UInt32,
                routingProtocol: UInt8 = RoutingProtocol.mptcpctl) {
        self.init(family: address.family, priority: priority, source: address, table: table,
                  routingProtocol: routingProtocol)
    }

    /// `from all lookup main suppress_prefixlength 0` (as wg-quick makes it): the
    /// main table's specific routes (a docker bridge, a LAN or VPN route) decide
    /// for every source, its default route is passed over so the source rules
    /// after it decide, and traffic they do not match still reaches main at 32766.
    public static func mainWithoutDefault(family: UInt16, priority: UInt32,
                                          routingProtocol: UInt8 = RoutingProtocol.mptcpctl) -> RoutingRule {
        RoutingRule(family: family, priority: priority, source: nil, table: mainTable, routingProtocol: routingProtocol,
                    suppressPrefixLength: 0)
    }
}
