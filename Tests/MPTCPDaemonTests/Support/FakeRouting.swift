import Glibc
import MPTCPKit
@testable import MPTCPDaemon

/// Rules, routes and rp_filter sysctls in memory, for the routing owner's unit
/// tests: answers as the kernel does (an identical rule or route is refused
/// with EEXIST, a missing one with ENOENT/ESRCH), records every change in order,
/// and refuses what a test scripted. `beforeEach` lets a test act at the moment
/// a change arrives (a crash, someone else's change). One test's thread at a time.
final class FakeRouting: RoutingOperations, ReversePathFilterOperations, @unchecked Sendable {
    private(set) var rulesTable: [RoutingRule] = []
    private(set) var routesTable: [Route] = []
    var reversePathFilters: [String: Int] = [:]
    var reversePathFilterAllValue = 0
    /// Every change asked for, in order (`add rule …`, `delete route …`, `set rp_filter eth2 2`).
    private(set) var changes: [String] = []
    private var refusals: [(matches: (String) -> Bool, error: MPTCPError, remaining: Int)] = []
    /// Called with each change (as `changes` names it) before it is answered.
    var beforeEach: ((String) throws(MPTCPError) -> Void)?

    /// Someone else's rule or route, or one left from earlier, straight in.
    func insert(_ rule: RoutingRule) { rulesTable.append(rule) }
    func insert(_ route: Route) { routesTable.append(route) }
    func removeAll(where match: (Route) -> Bool) { routesTable.removeAll(where: match) }
    func clearChanges() { changes = [] }

    /// The next `times` changes that `matches` picks are refused with `error`.
    func refuse(_ error: MPTCPError, times: Int = 1, when matches: @escaping (String) -> Bool) {
        refusals.append((matches, error, times))
    }

    static func refusal(_ operation: String, _ errno: Int32, _ message: String) -> MPTCPError {
        MPTCPError(code: .kernel, operation: operation, errno: errno, kernelMessage: message)
    }

    private func receive(_ change: String) throws(MPTCPError) {
        changes.append(change)
        try beforeEach?(change)
        if let i = refusals.firstIndex(where: { $0.remaining > 0 && $0.matches(change) }) {
            refusals[i].remaining -= 1
            throw refusals[i].error
        }
    }

    static func name(_ rule: RoutingRule) -> String {
        "rule from \(rule.source.map(\.description) ?? "all") table \(rule.table)"
            + (rule.suppressPrefixLength.map { " suppress_prefixlength \($0)" } ?? "") + " pref \(rule.priority)"
    }
    static func name(_ route: Route) -> String {
        "route \(route.isDefault ? "default" : "\(route.destination.map(\.description) ?? "")/\(route.destinationPrefixLength)")"
            + (route.gateway.map { " via \($0)" } ?? "") + " dev \(route.outputInterface) table \(route.table)"
    }

    private var hidden: [RoutingRule] = []
    /// The next dump leaves `rule` out (as if it had been read a moment before it was made).
    func hideOnce(_ rule: RoutingRule) { hidden.append(rule) }

    /// The rule dump's answer instead of the rules (EOPNOTSUPP: a kernel without CONFIG_FIB_RULES).
    var ruleDumpRefusal: MPTCPError?

    func rules() throws(MPTCPError) -> [RoutingRule] {
        if let ruleDumpRefusal { throw ruleDumpRefusal }
        defer { hidden = [] }
        return rulesTable.filter { rule in !hidden.contains { RoutingIdentity.same($0, rule) } }
    }
    func routes() throws(MPTCPError) -> [Route] { routesTable }

    func add(_ rule: RoutingRule) throws(MPTCPError) {
        try receive("add " + Self.name(rule))
        if rulesTable.contains(where: { RoutingIdentity.same($0, rule) }) { throw Self.refusal("add rule", EEXIST, "File exists") }
        rulesTable.append(rule)
    }

    func delete(_ rule: RoutingRule) throws(MPTCPError) {
        try receive("delete " + Self.name(rule))
        guard let i = rulesTable.firstIndex(where: { RoutingIdentity.same($0, rule) }) else {
            throw MPTCPError(code: .notFound, operation: "delete rule", errno: ENOENT)
        }
        rulesTable.remove(at: i)
    }

    func add(_ route: Route) throws(MPTCPError) {
        try receive("add " + Self.name(route))
        if routesTable.contains(where: { RoutingIdentity.same($0, route) }) { throw Self.refusal("add route", EEXIST, "File exists") }
        routesTable.append(route)
    }

    func delete(_ route: Route) throws(MPTCPError) {
        try receive("delete " + Self.name(route))
        guard let i = routesTable.firstIndex(where: { RoutingIdentity.same($0, route) }) else {
            throw MPTCPError(code: .notFound, operation: "delete route", errno: ESRCH)
        }
        routesTable.remove(at: i)
    }

    func lookup(_ query: RouteQuery) throws(MPTCPError) -> Route {
        throw MPTCPError(code: .notFound, operation: "lookup", detail: "not faked")
    }

    func reversePathFilter(interface: String) throws(MPTCPError) -> Int {
        guard let v = reversePathFilters[interface] else { throw MPTCPError(code: .notFound, operation: "read rp_filter of \(interface)") }
        return v
    }

    func setReversePathFilter(_ value: Int, interface: String) throws(MPTCPError) {
        try receive("set rp_filter \(interface) \(value)")
        reversePathFilters[interface] = value
    }

    func reversePathFilterAll() throws(MPTCPError) -> Int { reversePathFilterAllValue }

    /// The routing owner's view of this kernel.
    var routingKernel: RoutingKernel { RoutingKernel(routing: self, reversePathFilter: self) }
}
