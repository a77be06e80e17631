import MPTCPKit

/// One change to the namespace's routing, each with the reason a person reads
/// in `plan` and the log ("eth2 10.2.1.2: source route so subflows from it leave by eth2").
public enum RoutingChange: Hashable, Sendable {
    case addRoute(Route, reason: String)
    case removeRoute(Route, reason: String)
    case addRule(RoutingRule, reason: String)
    case removeRule(RoutingRule, reason: String)
    /// Set `net.ipv4.conf.IF.rp_filter` (`from` is the value found, kept for the restore).
    case setReversePathFilter(interface: String, from: Int, to: Int, reason: String)
    /// Give back the value found before the daemon changed it.
    case restoreReversePathFilter(interface: String, to: Int, reason: String)

    public var reason: String {
        switch self {
        case .addRoute(_, let r), .removeRoute(_, let r), .addRule(_, let r), .removeRule(_, let r),
             .setReversePathFilter(_, _, _, let r), .restoreReversePathFilter(_, _, let r):
            return r
        }
    }
}
