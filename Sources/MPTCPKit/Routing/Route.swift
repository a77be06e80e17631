/// A route (`ip route`): `RTM_NEWROUTE`, a `struct rtmsg` followed by `RTA_*`
/// attributes. A multipath route (`RTA_MULTIPATH`) is listed as one `Route`
/// per next hop, each with that hop's gateway and interface.
public struct Route: Hashable, Sendable {
    /// `AF_INET` or `AF_INET6`.
    public var family: UInt16
    /// `RTA_TABLE` (the header's `rtm_table` only holds tables up to 255).
    public var table: UInt32
    /// `RTA_DST`; nil for a default route.
    public var destination: IPAddress?
    /// `rtm_dst_len`.
    public var destinationPrefixLength: UInt8
    /// `RTA_GATEWAY` (or `RTA_VIA`); nil for a route on the link.
    public var gateway: IPAddress?
    /// `RTA_OIF`; 0 when the route names no interface.
    public var outputInterface: Int32
    /// `RTA_PREFSRC`: the source address the kernel picks for traffic on this route.
    public var preferredSource: IPAddress?
    /// `rtm_scope` (`RT_SCOPE_UNIVERSE` 0, `RT_SCOPE_LINK` 253, `RT_SCOPE_HOST` 254).
    public var scope: UInt8
    /// `rtm_protocol`: who made the route; `RoutingProtocol.mptcpctl` on the daemon's.
    public var routingProtocol: UInt8
    /// `RTA_PRIORITY` (the metric); nil when absent.
    public var metric: UInt32?
    /// `rtm_type` (`RTN_UNICAST` 1, `RTN_LOCAL` 2, ...).
    public var type: UInt8
    /// `RTNH_F_ONLINK` (`ip route … onlink`): the gateway is taken as on the
    /// output interface's link without a connected route that holds it, as cloud
    /// images set up a /32 address (`default via 10.9.0.1 dev eth0 onlink`). In
    /// `rtm_flags`, or a multipath next hop's `rtnh_flags`.
    public var onLink: Bool

    public init(family: UInt16, table: UInt32, destination: IPAddress?, destinationPrefixLength: UInt8,
                gateway: IPAddress? = nil, outputInterface: Int32, preferredSource: IPAddress? = nil,
                scope: UInt8 = Route.scopeUniverse, routingProtocol: UInt8 = RoutingProtocol.mptcpctl,
                metric: UInt32? = nil, type: UInt8 = Route.typeUnicast, onLink: Bool = false) {
        self.family = family
        self.table = table
        self.destination = destination
        self.destinationPrefixLength = destinationPrefixLength
        self.gateway = gateway
        self.outputInterface = outputInterface
        self.preferredSource = preferredSource
        self.scope = scope
        self.routingProtocol = routingProtocol
        self.metric = metric
        self.type = type
        self.onLink = onLink
    }

    /// A default route (no destination, or a zero-length prefix).
    public var isDefault: Bool { destination == nil || destinationPrefixLength == 0 }

    /// `RT_SCOPE_UNIVERSE`: a route via a gateway, or anywhere.
    public static let scopeUniverse: UInt8 = 0
    /// `RT_SCOPE_LINK`: a destination on the attached link.
    public static let scopeLink: UInt8 = 253
    /// `RT_SCOPE_HOST`: a local address.
    public static let scopeHost: UInt8 = 254
    /// `RTN_UNICAST`: a gateway or direct route.
    public static let typeUnicast: UInt8 = 1
    /// `RTN_LOCAL`: a local address.
    public static let typeLocal: UInt8 = 2
    /// `RT_TABLE_MAIN`.
    public static let tableMain: UInt32 = 254
    /// `RT_TABLE_LOCAL`.
    public static let tableLocal: UInt32 = 255
}

/// `rtm_protocol` / `FRA_PROTOCOL` values: who made a route or rule.
public enum RoutingProtocol {
    /// What `mptcpctld` marks its rules and routes with: 0xF2 (242), unassigned in
    /// `linux/rtnetlink.h` and `/etc/iproute2/rt_protos`. `ip rule` and `ip route`
    /// show it as `proto 242`; the daemon only ever changes or removes rules and
    /// routes that carry it, and leaves every other one alone.
    public static let mptcpctl: UInt8 = 0xF2
    /// `RTPROT_KERNEL`: made by the kernel (connected routes, the default rules).
    public static let kernel: UInt8 = 2
    /// `RTPROT_BOOT`: made by `ip` without `proto`.
    public static let boot: UInt8 = 3
    /// `RTPROT_STATIC`: made by an administrator.
    public static let staticRoute: UInt8 = 4
}

/// A question to the kernel's FIB (`RTM_GETROUTE` without dump): which route
/// would a packet to `destination`, from `source`, bound to `outputInterface`, take?
public struct RouteQuery: Hashable, Sendable {
    public var destination: IPAddress
    /// `RTA_SRC`: the source address the packet carries; nil to let the kernel choose.
    public var source: IPAddress?
    /// `RTA_OIF`: the interface the socket is bound to, if any.
    public var outputInterface: Int32?

    public init(destination: IPAddress, source: IPAddress? = nil, outputInterface: Int32? = nil) {
        self.destination = destination
        self.source = source
        self.outputInterface = outputInterface
    }
}
