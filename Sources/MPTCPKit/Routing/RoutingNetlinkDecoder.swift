/// Routes and rules, decoded by the one rtnetlink decoder (its links and
/// addresses are in `RouteNetlinkDecoder.swift`). Pure: unit- and fuzz-tested
/// without a kernel; bad bytes give a `DecodeError`, never a trap.
extension RouteNetlinkDecoder {
    /// `RTM_NEWROUTE` (dump entry, notification or lookup reply) as routes: one
    /// per next hop of an `RTA_MULTIPATH` route, else one; none for a family
    /// other than IPv4 and IPv6 (multicast and MPLS tables share the dump).
    /// `struct rtmsg`: family, dst_len, src_len, tos, table, protocol, scope,
    /// type (u8 each), flags u32.
    static func routes(_ m: NetlinkMessage) throws(DecodeError) -> [Route] {
        guard m.payload.count >= 12 else { throw DecodeError("RTM_NEWROUTE shorter than rtmsg") }
        let p = m.payload, base = p.startIndex
        let family = UInt16(p[base])
        guard family == AddressFamily.inet || family == AddressFamily.inet6 else { return [] }
        // rtm_flags: a single next hop's RTNH_F_ONLINK (a lookup's reply adds RTM_F_* bits, left out).
        let flags = readLE32(p, base + 8)
        var route = Route(family: family, table: UInt32(p[base + 4]), destination: nil, destinationPrefixLength: p[base + 1],
                          outputInterface: 0, scope: p[base + 6], routingProtocol: p[base + 5], type: p[base + 7],
                          onLink: flags & RT.nextHopFlagOnLink != 0)
        var hops: [NextHop] = []
        for a in try parseAttributes(p.dropFirst(12)) {
            switch a.type {
            case RT.rtaDst: route.destination = try addressAttribute(a, family, "RTA_DST")
            case RT.rtaGateway: route.gateway = try addressAttribute(a, family, "RTA_GATEWAY")
            case RT.rtaVia: route.gateway = try via(a.value)
            case RT.rtaOif: route.outputInterface = try a.s32("RTA_OIF")
            case RT.rtaPrefsrc: route.preferredSource = try addressAttribute(a, family, "RTA_PREFSRC")
            case RT.rtaTable: route.table = try a.u32("RTA_TABLE")
            case RT.rtaPriority: route.metric = try a.u32("RTA_PRIORITY")
            case RT.rtaMultipath: hops = try nextHops(a.value, family: family)
            default: break
            }
        }
        guard !hops.isEmpty else { return [route] }
        return hops.map { hop in
            var one = route
            one.gateway = hop.gateway
            one.outputInterface = hop.interface
            one.onLink = route.onLink || hop.onLink
            return one
        }
    }

    /// One next hop of a multipath route: its gateway, interface and `RTNH_F_ONLINK`.
    struct NextHop: Hashable {
        var gateway: IPAddress?
        var interface: Int32
        var onLink: Bool
    }

    /// The next hops of an `RTA_MULTIPATH` list of `struct rtnexthop` (len u16,
    /// flags u8, hops u8, ifindex s32, then `RTA_GATEWAY` / `RTA_VIA`).
    static func nextHops(_ value: [UInt8], family: UInt16) throws(DecodeError) -> [NextHop] {
        var hops: [NextHop] = []
        var at = value.startIndex
        while at + 8 <= value.endIndex {
            let len = Int(readLE16(value, at))
            guard len >= 8 else { throw DecodeError("RTA_MULTIPATH next hop of \(len) bytes") }
            guard len <= value.endIndex - at else {
                throw DecodeError("RTA_MULTIPATH next hop claims \(len) bytes but only \(value.endIndex - at) remain")
            }
            var gateway: IPAddress?
            for a in try parseAttributes(value[(at + 8)..<(at + len)]) {
                switch a.type {
                case RT.rtaGateway: gateway = try addressAttribute(a, family, "next hop RTA_GATEWAY")
                case RT.rtaVia: gateway = try via(a.value)
                default: break
                }
            }
            let onLink = UInt32(value[at + 2]) & RT.nextHopFlagOnLink != 0
            hops.append(NextHop(gateway: gateway, interface: Int32(bitPattern: readLE32(value, at + 4)), onLink: onLink))
            at += (len + 3) & ~3
        }
        return hops
    }

    /// `RTM_NEWRULE` as a rule; nil for a family other than IPv4 and IPv6.
    /// `FRA_SUPPRESS_PREFIXLEN` is dumped for every rule, -1 (0xffffffff) when unset.
    /// `struct fib_rule_hdr`: family, dst_len, src_len, tos, table, res1, res2,
    /// action (u8 each), flags u32; `FRA_TABLE` overrides the header's table.
    static func rule(_ m: NetlinkMessage) throws(DecodeError) -> RoutingRule? {
        guard m.payload.count >= 12 else { throw DecodeError("RTM_NEWRULE shorter than fib_rule_hdr") }
        let p = m.payload, base = p.startIndex
        let family = UInt16(p[base])
        guard family == AddressFamily.inet || family == AddressFamily.inet6 else { return nil }
        var rule = RoutingRule(family: family, priority: 0, source: nil, sourcePrefixLength: p[base + 2],
                               table: UInt32(p[base + 4]), routingProtocol: 0)
        for a in try parseAttributes(p.dropFirst(12)) {
            switch a.type {
            case RT.fraSrc: rule.source = try addressAttribute(a, family, "FRA_SRC")
            case RT.fraPriority: rule.priority = try a.u32("FRA_PRIORITY")
            case RT.fraTable: rule.table = try a.u32("FRA_TABLE")
            case RT.fraProtocol: rule.routingProtocol = try a.u8("FRA_PROTOCOL")
            case RT.fraSuppressPrefixLength:
                let length = try a.u32("FRA_SUPPRESS_PREFIXLEN")
                rule.suppressPrefixLength = length == UInt32.max ? nil : length
            default: break
            }
        }
        return rule
    }

    /// An address attribute of a message of `family`: 4 bytes for IPv4, 16 for IPv6.
    private static func addressAttribute(_ a: NetlinkAttribute, _ family: UInt16, _ what: String) throws(DecodeError) -> IPAddress {
        guard let address = IPAddress(bytes: a.value), address.family == family else {
            throw DecodeError("\(what): \(a.value.count) bytes is no address of family \(family)")
        }
        return address
    }

    /// `RTA_VIA` (`struct rtvia`: family u16, then the address): an IPv4 route via an IPv6 router.
    private static func via(_ value: [UInt8]) throws(DecodeError) -> IPAddress {
        guard value.count >= 2, let address = IPAddress(bytes: Array(value.dropFirst(2))),
              address.family == readLE16(value, value.startIndex) else {
            throw DecodeError("RTA_VIA of \(value.count) bytes is no address")
        }
        return address
    }
}
