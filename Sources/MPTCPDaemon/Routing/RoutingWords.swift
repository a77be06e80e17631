import MPTCPKit
import MPTCPPolicy

/// Rules, routes and routing changes in words, the same everywhere they are
/// shown: the log, `--plan`/`policy.plan`, `status` and the events. Knows the
/// interface names: a route's by its output interface, a rule's by the table
/// the owner keeps for that interface.
struct RoutingWords {
    /// Link index → name.
    let links: [Int32: String]
    /// Table → the interface it serves.
    let tables: [UInt32: String]

    init(network: NetworkSnapshot, tables: [String: UInt32]) {
        links = Dictionary(network.links.map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
        self.tables = Dictionary(tables.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a })
    }

    /// `inet` or `inet6`, as the events name a family.
    static func family(_ family: UInt16) -> String { family == 10 ? "inet6" : "inet" }

    /// `10.2.1.2` (or `10.2.1.0/24` for a prefix shorter than the address).
    static func prefix(_ address: IPAddress?, _ length: UInt8) -> String {
        guard let address else { return "all" }
        return length == (address.isIPv4 ? 32 : 128) ? address.description : "\(address)/\(length)"
    }

    /// The interface a rule sends traffic out of, when the table is one of the owner's.
    func interface(of rule: RoutingRule) -> String? { tables[rule.table] }

    /// The interface a route leaves by.
    func interface(of route: Route) -> String? {
        route.outputInterface == 0 ? tables[route.table] : links[route.outputInterface] ?? "if\(route.outputInterface)"
    }

    /// `from 10.2.1.2 lookup 20001 priority 10001 (eth2)`, or
    /// `from all lookup main suppress_prefixlength 0 priority 7300`, as `ip rule` shows it.
    func describe(_ rule: RoutingRule) -> String {
        let name = interface(of: rule).map { " (\($0))" } ?? ""
        let suppress = rule.suppressPrefixLength.map { " suppress_prefixlength \($0)" } ?? ""
        return "from \(Self.prefix(rule.source, rule.sourcePrefixLength)) lookup \(Self.table(rule.table))\(suppress) "
            + "priority \(rule.priority)\(name)"
    }

    /// `main` for the main table, else the number.
    static func table(_ table: UInt32) -> String { table == RoutingRule.mainTable ? "main" : "\(table)" }

    /// `default via 10.2.1.1 dev eth2 table 20001`, `default via 10.9.0.1 dev eth0 onlink table 20001`,
    /// or `10.2.1.0/24 dev eth2 scope link src 10.2.1.2 table 20001`, as `ip route` shows it.
    func describe(_ route: Route) -> String {
        var words = [route.isDefault ? "default" : Self.prefix(route.destination, route.destinationPrefixLength)]
        if let gateway = route.gateway { words.append("via \(gateway)") }
        if let name = interface(of: route) { words.append("dev \(name)") }
        if route.onLink { words.append("onlink") }
        if route.scope == Route.scopeLink { words.append("scope link") }
        if let source = route.preferredSource { words.append("src \(source)") }
        if let metric = route.metric { words.append("metric \(metric)") }
        words.append("table \(route.table)")
        return words.joined(separator: " ")
    }

    /// `1 → 2 (loose)`: an rp_filter value change.
    static func reversePathFilter(from: Int, to: Int) -> String { "\(from) → \(to) (\(meaning(to)))" }

    /// 0 off, 1 strict, 2 loose.
    static func meaning(_ value: Int) -> String {
        switch value {
        case 0: "off"
        case 1: "strict"
        case 2: "loose"
        default: "\(value)"
        }
    }

    /// The line the log writes for an applied change (notice level).
    func logLine(_ change: RoutingChange) -> String {
        switch change {
        case .addRule(let rule, _): "source route: \(describe(rule))"
        case .removeRule(let rule, _): "removed source route: \(describe(rule))"
        case .addRoute(let route, _): "route: \(describe(route))"
        case .removeRoute(let route, _): "removed route: \(describe(route))"
        case .setReversePathFilter(let interface, let from, let to, _):
            "rp_filter on \(interface): \(Self.reversePathFilter(from: from, to: to)), restored on exit"
        case .restoreReversePathFilter(let interface, let to, _): "rp_filter on \(interface): restored to \(to) (\(Self.meaning(to)))"
        }
    }

    /// `add rule`, `remove route`, `set rp_filter`…: the change's first words in `--plan`.
    static func action(_ change: RoutingChange) -> String {
        switch change {
        case .addRule: "add rule"
        case .removeRule: "remove rule"
        case .addRoute: "add route"
        case .removeRoute: "remove route"
        case .setReversePathFilter: "set rp_filter"
        case .restoreReversePathFilter: "restore rp_filter"
        }
    }

    /// What the change is about, after its action, in `--plan`.
    func subject(_ change: RoutingChange) -> String {
        switch change {
        case .addRule(let rule, _), .removeRule(let rule, _): describe(rule)
        case .addRoute(let route, _), .removeRoute(let route, _): describe(route)
        case .setReversePathFilter(let interface, let from, let to, _):
            "net.ipv4.conf.\(interface).rp_filter: \(Self.reversePathFilter(from: from, to: to))"
        case .restoreReversePathFilter(let interface, let to, _): "net.ipv4.conf.\(interface).rp_filter: → \(to) (\(Self.meaning(to)))"
        }
    }
}
