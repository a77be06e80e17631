import MPTCPAPI
import MPTCPKit
import MPTCPPolicy

extension RoutingChange {
    /// The action event's type (`mptcpctld(8)`, EVENTS): `routing_rule_added`,
    /// `routing_rule_removed`, `routing_route_added`, `routing_route_removed`,
    /// `routing_rp_filter_set`, `routing_rp_filter_restored`.
    var eventType: String {
        switch self {
        case .addRule: "routing_rule_added"
        case .removeRule: "routing_rule_removed"
        case .addRoute: "routing_route_added"
        case .removeRoute: "routing_route_removed"
        case .setReversePathFilter: "routing_rp_filter_set"
        case .restoreReversePathFilter: "routing_rp_filter_restored"
        }
    }
}

extension RoutingWords {
    /// The action event for a change the owner applied (`result` `ok`) or the
    /// kernel refused (`refused`, with the kernel's words in `error`): its
    /// interface, family, address, table, priority, suppress_prefix_length (the
    /// suppress rule's), gateway, rp_filter values, reason and trigger.
    func event(_ change: RoutingChange, trigger: String, error: MPTCPError?) -> DaemonEvent {
        var f: [String: JSONValue] = [
            "reason": .string(change.reason), "trigger": .string(trigger), "result": .string(error == nil ? "ok" : "refused"),
        ]
        if let error { f["error"] = .string("\(error)") }
        switch change {
        case .addRule(let rule, _), .removeRule(let rule, _):
            f["family"] = .string(Self.family(rule.family))
            f["address"] = .string(Self.prefix(rule.source, rule.sourcePrefixLength))
            f["table"] = .integer(Int64(rule.table))
            f["priority"] = .integer(Int64(rule.priority))
            if let length = rule.suppressPrefixLength { f["suppress_prefix_length"] = .integer(Int64(length)) }
            if let name = interface(of: rule) { f["interface"] = .string(name) }
        case .addRoute(let route, _), .removeRoute(let route, _):
            f["family"] = .string(Self.family(route.family))
            f["address"] = .string(route.isDefault ? "default" : Self.prefix(route.destination, route.destinationPrefixLength))
            f["table"] = .integer(Int64(route.table))
            if let gateway = route.gateway { f["gateway"] = .string(gateway.description) }
            if let source = route.preferredSource { f["source"] = .string(source.description) }
            if let name = interface(of: route) { f["interface"] = .string(name) }
        case .setReversePathFilter(let interface, let from, let to, _):
            f["family"] = .string("inet")
            f["interface"] = .string(interface)
            f["from"] = .integer(Int64(from))
            f["to"] = .integer(Int64(to))
        case .restoreReversePathFilter(let interface, let to, _):
            f["family"] = .string("inet")
            f["interface"] = .string(interface)
            f["to"] = .integer(Int64(to))
        }
        return DaemonEvent(.action, change.eventType, f)
    }
}
