import MPTCPKit
import MPTCPPolicy

/// What the routing owner reaches of the kernel, through protocols: rules and
/// routes (rtnetlink) and the rp_filter sysctls. The daemon builds it from a
/// `KernelHandle`; unit tests from a fake routing kernel. Used by one caller at
/// a time (the endpoint thread, or one control request on its own handle).
struct RoutingKernel: @unchecked Sendable {
    let routing: any RoutingOperations
    let reversePathFilter: any ReversePathFilterOperations

    /// The routing state the planner reads, as of now.
    struct State {
        /// The caller's links and addresses, with every rule and route read now.
        var network: NetworkSnapshot
        /// rp_filter of each link that has one, by name (`all` under its own key).
        var reversePathFilter: [String: Int]
    }

    /// Rules and routes read now into `network`, and the rp_filter values of its
    /// links. A link whose rp_filter cannot be read (gone since, no IPv4) is left
    /// out. A kernel without policy routing gives no rules and `hasPolicyRouting` false.
    func observe(_ network: NetworkSnapshot) throws(MPTCPError) -> State {
        var snapshot = network
        let rules = try routing.rulesIfSupported()
        snapshot.rules = rules ?? []
        snapshot.hasPolicyRouting = rules != nil
        snapshot.routes = try routing.routes()
        var values: [String: Int] = [:]
        for link in network.links {
            if let value = try? reversePathFilter.reversePathFilter(interface: link.name) { values[link.name] = value }
        }
        if let all = try? reversePathFilter.reversePathFilterAll() { values[Self.allInterfaces] = all }
        return State(network: snapshot, reversePathFilter: values)
    }

    /// The key of `net.ipv4.conf.all.rp_filter` among the values `observe` reads.
    static let allInterfaces = "all"

    /// Applies one change as planned.
    func apply(_ change: RoutingChange) throws(MPTCPError) {
        switch change {
        case .addRoute(let route, _): try routing.add(route)
        case .removeRoute(let route, _): try routing.delete(route)
        case .addRule(let rule, _): try routing.add(rule)
        case .removeRule(let rule, _): try routing.delete(rule)
        case .setReversePathFilter(let interface, _, let to, _): try reversePathFilter.setReversePathFilter(to, interface: interface)
        case .restoreReversePathFilter(let interface, let to, _): try reversePathFilter.setReversePathFilter(to, interface: interface)
        }
    }
}
