import Foundation
import MPTCPKit
import Testing

/// `RoutingTables` and the rp_filter sysctls against the real kernel, in the lab's
/// client namespace (whose own per-path rules, tables 101/102 at 1001/1002, are
/// foreign here), cross-checked with `ip rule` and `ip route`.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class RoutingKernelTests {
    let lab: Lab
    let tables: RoutingTables
    let a2: Int32

    init() throws {
        lab = try Lab(paths: 2)
        tables = try RoutingTables(namespace: lab.clientNamespace)
        a2 = try #require(try InterfaceTable.read(namespace: lab.clientNamespace).index(of: "a2"))
    }

    deinit { lab.close() }

    /// The connected and default routes and the rule a daemon would make for
    /// path 2's address of `family`, in `table`.
    func ours(v6: Bool, table: UInt32, priority: UInt32) -> (connected: Route, gateway: Route, rule: RoutingRule) {
        let local = lab.address("a", path: 2, v6: v6), peer = lab.address("b", path: 2, v6: v6)
        let family = local.family
        let connected = Route(family: family, table: table, destination: IPAddress(v6 ? "fd00:2::" : "10.0.2.0"),
                              destinationPrefixLength: v6 ? 64 : 24, outputInterface: a2, preferredSource: v6 ? nil : local,
                              scope: v6 ? Route.scopeUniverse : Route.scopeLink)
        let gateway = Route(family: family, table: table, destination: nil, destinationPrefixLength: 0, gateway: peer, outputInterface: a2)
        return (connected, gateway, RoutingRule(from: local, table: table, priority: priority))
    }

    /// Whether `listed` holds `route` (the kernel adds a metric to IPv6 routes).
    func lists(_ listed: [Route], _ route: Route) -> Bool {
        listed.contains { var l = $0; if route.metric == nil { l.metric = nil }; return l == route }
    }

    func ip(_ arguments: [String]) throws -> String { try lab.exec(lab.client, ["ip"] + arguments).stdout }

    @Test(arguments: [false, true])
    func rulesAndRoutesInATableAbove255AreAddedListedAndDeleted(v6: Bool) throws {
        let (connected, gateway, rule) = ours(v6: v6, table: 4242, priority: 4242)
        let flag = v6 ? "-6" : "-4"
        try tables.add(connected)
        try tables.add(gateway)
        try tables.add(rule)
        let routes = try tables.routes(), rules = try tables.rules()
        #expect(lists(routes, connected) && lists(routes, gateway), "\(routes.filter { $0.table == 4242 })")
        #expect(rules.contains(rule), "\(rules)")
        let shown = try ip([flag, "route", "show", "table", "4242"])
        #expect(shown.contains("default via \(gateway.gateway!) dev a2 proto 242"), "\(shown)")
        let ruleText = try ip([flag, "rule", "show"])
        #expect(ruleText.contains("4242:\tfrom \(rule.source!) lookup 4242 proto 242"), "\(ruleText)")
        let snapshot = try NetworkSnapshot.read(namespace: lab.clientNamespace)
        #expect(lists(snapshot.routes, gateway) && snapshot.rules.contains(rule))

        #expect { try self.tables.add(rule) } throws: { ($0 as? MPTCPError)?.isExists == true }
        #expect { try self.tables.add(gateway) } throws: { ($0 as? MPTCPError)?.isExists == true }

        try tables.delete(rule)
        try tables.delete(gateway)
        try tables.delete(connected)
        #expect(!(try tables.rules()).contains(rule))
        #expect(try tables.routes().allSatisfy { $0.table != 4242 })
        #expect(try ip([flag, "rule", "show"]).contains("4242:") == false)
        #expect { try self.tables.delete(rule) } throws: { ($0 as? MPTCPError)?.isNotFound == true }
        #expect { try self.tables.delete(gateway) } throws: { ($0 as? MPTCPError)?.isNotFound == true }
    }

    @Test(arguments: [false, true])
    func lookupFromAnAddressPicksItsRulesTable(v6: Bool) throws {
        let (_, gateway, rule) = ours(v6: v6, table: 4243, priority: 500)   // ahead of the lab's own rules
        try tables.add(gateway)
        try tables.add(rule)
        defer { _ = try? tables.delete(rule); _ = try? tables.delete(gateway) }
        let far = IPAddress(v6 ? "2001:db8:77::1" : "192.0.2.77")!
        let picked = try tables.lookup(RouteQuery(destination: far, source: rule.source))
        #expect(picked.table == 4243 && picked.gateway == gateway.gateway && picked.outputInterface == a2, "\(picked)")
        let main = try tables.lookup(RouteQuery(destination: far))
        #expect(main.table == Route.tableMain && main.gateway == lab.address("b", path: 1, v6: v6), "\(main)")
        let cli = try ip([v6 ? "-6" : "-4", "route", "get", far.description, "from", rule.source!.description])
        #expect(cli.contains("table 4243"), "\(cli)")
    }

    @Test func lookupRefusalsAreClassified() throws {
        try lab.exec(lab.client, ["ip", "route", "add", "unreachable", "198.51.100.0/24"])
        #expect { try self.tables.lookup(RouteQuery(destination: IPAddress("198.51.100.1")!)) } throws: {
            ($0 as? MPTCPError)?.isUnreachable == true
        }
        #expect { try self.tables.lookup(RouteQuery(destination: IPAddress("192.0.2.1")!, source: IPAddress("10.0.2.1"),
                                                    outputInterface: 999)) } throws: { ($0 as? MPTCPError)?.errno == ENODEV }
        // IPv4 checks the source: one that is not this host's finds no route; one that cannot send is invalid.
        #expect { try self.tables.lookup(RouteQuery(destination: IPAddress("192.0.2.1")!, source: IPAddress("10.9.9.9"))) } throws: {
            ($0 as? MPTCPError)?.isUnreachable == true
        }
        #expect { try self.tables.lookup(RouteQuery(destination: IPAddress("192.0.2.1")!, source: IPAddress("224.0.0.5"))) } throws: {
            ($0 as? MPTCPError)?.code == .invalidArgument && ($0 as? MPTCPError)?.errno == EINVAL
        }
        #expect { try self.tables.lookup(RouteQuery(destination: IPAddress("192.0.2.1")!, source: IPAddress("::1"))) } throws: {
            ($0 as? MPTCPError)?.code == .invalidArgument
        }
    }

    @Test func foreignRulesAndRoutesAreLeftUntouched() throws {
        // A foreign rule and route with the same selectors as ours, but another protocol.
        try lab.exec(lab.client, ["ip", "rule", "add", "from", "10.0.2.1", "table", "4250", "pref", "4250", "proto", "static"])
        try lab.exec(lab.client, ["ip", "route", "add", "default", "via", "10.0.2.2", "dev", "a2", "table", "4250", "proto", "static"])
        let rulesBefore = try ip(["rule", "show"]), routesBefore = try ip(["route", "show", "table", "all"])
        let (_, gateway, rule) = ours(v6: false, table: 4250, priority: 4250)
        #expect { try self.tables.delete(rule) } throws: { ($0 as? MPTCPError)?.isNotFound == true }
        #expect { try self.tables.delete(gateway) } throws: { ($0 as? MPTCPError)?.isNotFound == true }
        let foreign = try #require(try tables.rules().first { $0.priority == 4250 })
        #expect(foreign.routingProtocol == 4 && foreign.table == 4250)
        #expect(try ip(["rule", "show"]) == rulesBefore)
        #expect(try ip(["route", "show", "table", "all"]) == routesBefore)
    }

    @Test func reversePathFilterIsReadAndWrittenPerInterfaceInTheNamespace() throws {
        let sysctl = try MPTCPSysctl(namespace: lab.clientNamespace)
        #expect(try sysctl.reversePathFilter(interface: "a1") == 0)   // as the lab sets it
        try sysctl.setReversePathFilter(2, interface: "a1")
        #expect(try sysctl.reversePathFilter(interface: "a1") == 2)
        let cli = try lab.exec(lab.client, ["sysctl", "-n", "net.ipv4.conf.a1.rp_filter"]).stdout
        #expect(cli.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
        #expect(try sysctl.reversePathFilterAll() == 0)
        #expect(try MPTCPSysctl().reversePathFilter(interface: "lo") >= 0, "the test's own namespace is separate")
        #expect { try sysctl.reversePathFilter(interface: "nosuch0") } throws: { ($0 as? MPTCPError)?.isNotFound == true }
        #expect { try sysctl.setReversePathFilter(1, interface: "../all") } throws: { ($0 as? MPTCPError)?.code == .invalidArgument }
        try sysctl.setReversePathFilter(0, interface: "a1")
    }

    @Test func monitorReportsRouteAndRuleChanges() throws {
        let monitor = try NetworkMonitor(namespace: lab.clientNamespace)
        let (_, gateway, rule) = ours(v6: false, table: 4244, priority: 4244)
        try tables.add(gateway)
        try tables.add(rule)
        defer { _ = try? tables.delete(rule); _ = try? tables.delete(gateway) }
        var seen: [NetworkNotice] = []
        let deadline = Date().addingTimeInterval(15)
        let wanted: [NetworkNotice] = [.changed(kind: .route, interfaceIndex: a2), .changed(kind: .rule, interfaceIndex: nil)]
        while Date() < deadline, !wanted.allSatisfy(seen.contains) {
            seen += try monitor.next(timeoutMilliseconds: 200)
        }
        #expect(wanted.allSatisfy(seen.contains), "\(seen)")
    }
}
