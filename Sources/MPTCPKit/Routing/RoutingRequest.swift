/// The payloads of rtnetlink routing requests (`RTM_NEWRULE`, `RTM_NEWROUTE`,
/// their deletes and `RTM_GETROUTE` lookups), laid out as iproute2 lays them
/// out. Pure, so they are unit-tested byte by byte; `validate` refuses what the
/// kernel would misread before anything is sent.
enum RoutingRequest {
    /// `struct fib_rule_hdr` + `FRA_SRC`, `FRA_PRIORITY`, `FRA_TABLE`,
    /// `FRA_SUPPRESS_PREFIXLEN` (when set: a delete then matches only the
    /// suppressing rule) and `FRA_PROTOCOL`. The header's u8 table holds tables
    /// up to 255; `FRA_TABLE` is always sent, so larger ones work too.
    static func rule(_ rule: RoutingRule) -> [UInt8] {
        let headerTable = rule.table < 256 ? UInt8(rule.table) : 0
        var bytes: [UInt8] = [UInt8(truncatingIfNeeded: rule.family), 0, rule.source == nil ? 0 : rule.sourcePrefixLength, 0,
                              headerTable, 0, 0, RT.ruleActionToTable] + le32(0)
        var w = AttributeWriter()
        if let source = rule.source { w.put(RT.fraSrc, source.bytes) }
        w.putU32(RT.fraPriority, rule.priority)
        w.putU32(RT.fraTable, rule.table)
        if let length = rule.suppressPrefixLength { w.putU32(RT.fraSuppressPrefixLength, length) }
        w.putU8(RT.fraProtocol, rule.routingProtocol)
        bytes += w.bytes
        return bytes
    }

    /// `struct rtmsg` (with `RTNH_F_ONLINK` in `rtm_flags` for an on-link
    /// gateway) + `RTA_DST`, `RTA_GATEWAY`, `RTA_OIF`, `RTA_PREFSRC`,
    /// `RTA_TABLE` and `RTA_PRIORITY`, each only when the route has it.
    static func route(_ route: Route) -> [UInt8] {
        let headerTable = route.table < 256 ? UInt8(route.table) : 0
        var bytes: [UInt8] = [UInt8(truncatingIfNeeded: route.family), route.destinationPrefixLength, 0, 0,
                              headerTable, route.routingProtocol, route.scope, route.type]
            + le32(route.onLink ? RT.nextHopFlagOnLink : 0)
        var w = AttributeWriter()
        if let destination = route.destination { w.put(RT.rtaDst, destination.bytes) }
        if let gateway = route.gateway { w.put(RT.rtaGateway, gateway.bytes) }
        if route.outputInterface != 0 { w.putS32(RT.rtaOif, route.outputInterface) }
        if let source = route.preferredSource { w.put(RT.rtaPrefsrc, source.bytes) }
        w.putU32(RT.rtaTable, route.table)
        if let metric = route.metric { w.putU32(RT.rtaPriority, metric) }
        bytes += w.bytes
        return bytes
    }

    /// `RTM_GETROUTE` for one destination, with `RTM_F_LOOKUP_TABLE` so the
    /// reply names the table: `RTA_DST`, and `RTA_SRC` / `RTA_OIF` when asked.
    static func lookup(_ query: RouteQuery) -> [UInt8] {
        let full: UInt8 = query.destination.isIPv4 ? 32 : 128
        var bytes: [UInt8] = [UInt8(truncatingIfNeeded: query.destination.family), full, query.source == nil ? 0 : full, 0,
                              0, 0, 0, 0] + le32(RT.rtmFLookupTable)
        var w = AttributeWriter()
        w.put(RT.rtaDst, query.destination.bytes)
        if let source = query.source { w.put(RT.rtaSrc, source.bytes) }
        if let oif = query.outputInterface { w.putS32(RT.rtaOif, oif) }
        bytes += w.bytes
        return bytes
    }

    /// Why the kernel could not take `rule` as meant; nil when it can.
    static func problem(with rule: RoutingRule) -> String? {
        guard rule.family == AddressFamily.inet || rule.family == AddressFamily.inet6 else { return "family \(rule.family) is neither IPv4 nor IPv6" }
        if let source = rule.source {
            guard source.family == rule.family else { return "source \(source) is not of the rule's family" }
            guard rule.sourcePrefixLength <= (source.isIPv4 ? 32 : 128) else { return "prefix length \(rule.sourcePrefixLength) is too long for \(source)" }
        }
        guard rule.table != 0 else { return "table 0 is not a table" }
        if let length = rule.suppressPrefixLength, length > (rule.family == AddressFamily.inet ? 32 : 128) {
            return "suppress_prefixlength \(length) is longer than any prefix of the rule's family"
        }
        return nil
    }

    /// Why the kernel could not take `route` as meant; nil when it can.
    static func problem(with route: Route) -> String? {
        let family = route.family
        guard family == AddressFamily.inet || family == AddressFamily.inet6 else { return "family \(family) is neither IPv4 nor IPv6" }
        for (what, address) in [("destination", route.destination), ("gateway", route.gateway), ("preferred source", route.preferredSource)] {
            if let address, address.family != family { return "\(what) \(address) is not of the route's family" }
        }
        guard route.destinationPrefixLength <= (family == AddressFamily.inet ? 32 : 128) else {
            return "prefix length \(route.destinationPrefixLength) is too long"
        }
        guard route.table != 0 else { return "table 0 is not a table" }
        if route.onLink {
            guard route.gateway != nil, route.outputInterface != 0 else { return "an on-link route needs a gateway and an output interface" }
        }
        // fe80::/10 exists on every link: the kernel needs to know which one.
        if let gateway = route.gateway, gateway.isIPv6LinkLocal, route.outputInterface == 0 {
            return "the link-local gateway \(gateway) needs an output interface"
        }
        return nil
    }

    /// Why `query` cannot be asked; nil when it can.
    static func problem(with query: RouteQuery) -> String? {
        if let source = query.source, source.family != query.destination.family {
            return "source \(source) and destination \(query.destination) are of different families"
        }
        return nil
    }
}
