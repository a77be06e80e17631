import Foundation
import Glibc
import MPTCPKit
import MPTCPPolicy
import Testing
@testable import MPTCPDaemon

/// The routing owner on a fake routing kernel: what it makes, in which order,
/// what it records before making it, what it adopts after a crash, and what it
/// leaves alone.
@Suite struct RoutingOwnerTests {
    @Test func theFirstPassAddsEachTablesRoutesBeforeTheRuleThatUsesItAndRecordsThem() throws {
        let rig = RoutingRig()
        let owner = rig.owner()
        #expect(owner.reconcile(policy: try RoutingRig.policy(), network: rig.network, trigger: "start"))
        #expect(rig.ownRules.count == 2 + 1, "one rule per used address and the suppress rule: \(rig.ownRules)")
        let tables = Set(rig.ownRoutes.map(\.table))
        #expect(tables.count == 2, "a table per interface")
        #expect(rig.ownRoutes.contains { $0.isDefault && $0.gateway == RoutingRig.address("10.0.1.254") && $0.outputInterface == 2 })
        #expect(rig.ownRoutes.contains { $0.isDefault && $0.gateway == RoutingRig.address("10.0.2.254") && $0.outputInterface == 3 })
        // Every rule is added after the routes of its table.
        let changes = rig.routing.changes
        for (i, change) in changes.enumerated() where change.hasPrefix("add rule") {
            let table = try #require(change.split(separator: " ").drop { $0 != "table" }.dropFirst().first)
            #expect(!changes[(i + 1)...].contains { $0.hasPrefix("add route") && $0.hasSuffix("table \(table)") }, "\(changes)")
        }
        let record = try rig.store.load().routing
        #expect(record.rules.count == 2 + 1 && record.routes.count == rig.ownRoutes.count)
        #expect(Set(record.tables.keys) == ["a1", "a2"])
        #expect(record.reversePathFilter == ["a1": 1], "strict a1 set loose, its value found recorded")
        #expect(rig.routing.reversePathFilters["a1"] == 2)
        #expect(rig.log.lines.contains { $0.level == .notice && $0.message.hasPrefix("source route: from 10.0.1.1 lookup ") && $0.message.hasSuffix("(a1)") })
        #expect(rig.log.lines.contains { $0.message == "rp_filter on a1: 1 → 2 (loose), restored on exit" })
    }

    @Test func aSecondPassChangesNothing() throws {
        let rig = RoutingRig()
        let owner = rig.owner()
        let policy = try RoutingRig.policy()
        #expect(owner.reconcile(policy: policy, network: rig.network, trigger: "start"))
        rig.routing.clearChanges()
        _ = rig.actions()
        #expect(owner.reconcile(policy: policy, network: rig.network, trigger: "resync"))
        #expect(rig.routing.changes.isEmpty, "\(rig.routing.changes)")
        #expect(rig.actions().isEmpty)
    }

    @Test func aRenewToAnotherAddressAndGatewayMovesTheRuleAndTheRoutes() throws {
        let rig = RoutingRig()
        let owner = rig.owner()
        let policy = try RoutingRig.policy()
        #expect(owner.reconcile(policy: policy, network: rig.network, trigger: "start"))
        // DHCP renew on a1: 10.0.1.1 -> 10.0.3.7/24, gateway 10.0.3.254.
        rig.network = ReconcilerRig.network(addresses: ["10.0.3.7": 2, "10.0.2.1": 3])
        rig.routing.removeAll { $0.outputInterface == 2 && $0.routingProtocol != RoutingProtocol.mptcpctl }
        rig.routing.insert(Route(family: 2, table: Route.tableMain, destination: RoutingRig.address("10.0.3.0"), destinationPrefixLength: 24,
                                 outputInterface: 2, preferredSource: RoutingRig.address("10.0.3.7"), scope: Route.scopeLink,
                                 routingProtocol: RoutingProtocol.kernel))
        rig.routing.insert(Route(family: 2, table: Route.tableMain, destination: nil, destinationPrefixLength: 0,
                                 gateway: RoutingRig.address("10.0.3.254"), outputInterface: 2, routingProtocol: RoutingProtocol.boot, metric: 100))
        #expect(owner.reconcile(policy: policy, network: rig.network, trigger: "network"))
        #expect(rig.ownRules.contains { $0.hasPrefix("from 10.0.3.7 ") } && !rig.ownRules.contains { $0.hasPrefix("from 10.0.1.1 ") }, "\(rig.ownRules)")
        #expect(rig.ownRoutes.contains { $0.isDefault && $0.gateway == RoutingRig.address("10.0.3.254") })
        #expect(!rig.ownRoutes.contains { $0.gateway == RoutingRig.address("10.0.1.254") || $0.preferredSource == RoutingRig.address("10.0.1.1") })
        let record = try rig.store.load().routing
        #expect(record.ownedRules.count == 2 + 1 && record.ownedRoutes.count == rig.ownRoutes.count)
        rig.routing.clearChanges()
        #expect(owner.reconcile(policy: policy, network: rig.network, trigger: "network"))
        #expect(rig.routing.changes.isEmpty, "settled: \(rig.routing.changes)")
    }

    @Test func aCrashBetweenTheRecordWriteAndTheAddIsAdoptedWithoutDuplicatesAfterRestart() throws {
        let rig = RoutingRig()
        var atCrash: (record: OwnershipStore.Record, rules: [RoutingRule], routes: [Route])?
        defer { rig.routing.beforeEach = nil }
        rig.routing.beforeEach = { change throws(MPTCPError) in
            if change.hasPrefix("add rule"), atCrash == nil {
                atCrash = (try? rig.store.load()).map { ($0, rig.routing.rulesTable, rig.routing.routesTable) }
            }
        }
        let policy = try RoutingRig.policy()
        #expect(rig.owner().reconcile(policy: policy, network: rig.network, trigger: "start"))
        let crash = try #require(atCrash)
        #expect(crash.record.routing.rules.count == 1, "the rule recorded before its add")
        #expect(!crash.rules.contains { $0.routingProtocol == RoutingProtocol.mptcpctl }, "the add not made yet")

        // The daemon dies there: a new run finds that record, and those rules and routes.
        let routing = FakeRouting()
        for r in crash.rules { routing.insert(r) }
        for r in crash.routes { routing.insert(r) }
        routing.reversePathFilters = rig.routing.reversePathFilters
        let restarted = RoutingRig(routing: routing)
        try restarted.store.save(crash.record)
        let owner = restarted.owner()
        #expect(owner.reconcile(policy: policy, network: restarted.network, trigger: "start"))
        #expect(restarted.ownRules == rig.ownRules, "every rule once")
        #expect(Set(restarted.ownRoutes).count == restarted.ownRoutes.count && restarted.ownRoutes.count == rig.ownRoutes.count,
                "no route twice: \(restarted.ownRoutes)")
        #expect(!routing.changes.contains { $0.hasPrefix("add route") }, "the routes made before the crash are adopted: \(routing.changes)")
        let record = try restarted.store.load().routing
        #expect(record.ownedRules.count == 2 + 1 && record.ownedRoutes.count == restarted.ownRoutes.count)
        #expect(record.reversePathFilter == ["a1": 1], "the value found by the first run is kept, not the loose one it set")
    }

    @Test func anEEXISTOnARuleRecordedAsOursIsAdoptionNotFailure() throws {
        let rig = RoutingRig()
        let policy = try RoutingRig.policy()
        #expect(rig.owner().reconcile(policy: policy, network: rig.network, trigger: "start"))
        let recorded = try rig.store.load()
        // The kernel's dump did not list it, yet it exists: the add says EEXIST.
        rig.routing.clearChanges()
        let restarted = rig.restarted()
        let rule = try #require(recorded.routing.ownedRules.first)
        rig.routing.refuse(FakeRouting.refusal("add rule", EEXIST, "File exists"), when: { $0 == "add " + FakeRouting.name(rule) })
        let owner = restarted.owner()
        // Hide it from the dump for this pass only.
        rig.routing.hideOnce(rule)
        #expect(owner.reconcile(policy: policy, network: restarted.network, trigger: "start"), "adoption is no failure")
        #expect(restarted.log.lines("adopted source routing recorded by an earlier run").count == 1)
        #expect(try restarted.store.load().routing.owns(rule))
        #expect(!restarted.log.lines.contains { $0.level == .error })
    }

    @Test func aRuleAndATableOthersMadeAreNeverTouchedNotEvenAtExit() throws {
        let rig = RoutingRig()
        let foreignRule = RoutingRule(family: 2, priority: 500, source: RoutingRig.address("10.0.1.1"), table: 100,
                                      routingProtocol: RoutingProtocol.boot)
        let foreignRoute = Route(family: 2, table: 100, destination: nil, destinationPrefixLength: 0,
                                 gateway: RoutingRig.address("10.0.1.254"), outputInterface: 2, routingProtocol: RoutingProtocol.boot)
        rig.routing.insert(foreignRule)
        rig.routing.insert(foreignRoute)
        let owner = rig.owner()
        #expect(owner.reconcile(policy: try RoutingRig.policy(), network: rig.network, trigger: "start"))
        owner.removeOwned(network: rig.network)
        #expect(rig.routing.rulesTable == [foreignRule])
        #expect(rig.routing.routesTable.filter { $0.table == 100 } == [foreignRoute])
        #expect(!rig.routing.changes.contains { $0.contains("table 100") }, "\(rig.routing.changes)")
    }

    @Test func aRefusedChangeIsLoggedPublishedAndRetriedWithoutStoppingTheOthers() throws {
        let rig = RoutingRig()
        let policy = try RoutingRig.policy()
        rig.routing.refuse(FakeRouting.refusal("add route", EINVAL, "Nexthop has invalid gateway"),
                           when: { $0.hasPrefix("add route default via 10.0.2.254") })
        let owner = rig.owner()
        #expect(!owner.reconcile(policy: policy, network: rig.network, trigger: "start"))
        #expect(rig.ownRules.contains { $0.hasPrefix("from 10.0.1.1 ") }, "a1 is routed all the same: \(rig.ownRules)")
        let refused = rig.log.lines("kernel refused a routing change")
        #expect(refused.count == 1 && refused[0].metadata["error"]?.contains("Nexthop has invalid gateway") == true)
        #expect(rig.actions().contains("routing_route_added a2 refused"))
        #expect(!(try rig.store.load().routing.ownedRoutes.contains { $0.gateway == RoutingRig.address("10.0.2.254") }),
                "a refused add is not recorded")
        #expect(owner.reconcile(policy: policy, network: rig.network, trigger: "retry"))
        #expect(rig.ownRoutes.contains { $0.gateway == RoutingRig.address("10.0.2.254") }, "made on the next pass")
    }

    @Test func onExitRemoveTakesEverythingBackAndRestoresRpFilter() throws {
        let rig = RoutingRig()
        let before = (rules: rig.routing.rulesTable, routes: rig.routing.routesTable, rp: rig.routing.reversePathFilters)
        let owner = rig.owner()
        #expect(owner.reconcile(policy: try RoutingRig.policy(), network: rig.network, trigger: "start"))
        owner.removeOwned(network: rig.network)
        #expect(rig.routing.rulesTable == before.rules)
        #expect(rig.routing.routesTable == before.routes)
        #expect(rig.routing.reversePathFilters == before.rp)
        #expect(try rig.store.load().routing.isEmpty)
        #expect(rig.actions().contains("routing_rp_filter_restored a1 ok"))
    }

    @Test func anRpFilterSomeoneChangedSinceIsNotRestored() throws {
        let rig = RoutingRig()
        let owner = rig.owner()
        #expect(owner.reconcile(policy: try RoutingRig.policy(), network: rig.network, trigger: "start"))
        rig.routing.reversePathFilters["a1"] = 0
        owner.removeOwned(network: rig.network)
        #expect(rig.routing.reversePathFilters["a1"] == 0)
        #expect(try rig.store.load().routing.isEmpty)
    }

    @Test func modeOffRemovesWhatTheDaemonOwns() throws {
        let rig = RoutingRig()
        let before = (rules: rig.routing.rulesTable, routes: rig.routing.routesTable)
        let owner = rig.owner()
        #expect(owner.reconcile(policy: try RoutingRig.policy(), network: rig.network, trigger: "start"))
        #expect(!rig.ownRules.isEmpty)
        #expect(owner.reconcile(policy: try RoutingRig.policy(routing: "mode = \"off\""), network: rig.network, trigger: "reload"))
        #expect(rig.routing.rulesTable == before.rules && rig.routing.routesTable == before.routes)
        #expect(rig.routing.reversePathFilters["a1"] == 1)
        #expect(try rig.store.load().routing.isEmpty)
    }

    @Test func eachChangeIsPublishedWithItsInterfaceFamilyTableAndReason() throws {
        let rig = RoutingRig()
        #expect(rig.owner().reconcile(policy: try RoutingRig.policy(), network: rig.network, trigger: "start"))
        let events = rig.events.take().compactMap { item -> DaemonEvent? in
            guard case .event(let e) = item else { return nil }
            return e
        }
        let rule = try #require(events.first { $0.type == "routing_rule_added" && $0.fields["address"] == "10.0.1.1" })
        #expect(rule.kind == .action && rule.fields["interface"] == "a1" && rule.fields["family"] == "inet")
        #expect(rule.fields["table"]?.integerValue != nil && rule.fields["priority"]?.integerValue != nil)
        #expect(rule.fields["reason"]?.stringValue?.isEmpty == false && rule.fields["trigger"] == "start" && rule.fields["result"] == "ok")
        #expect(events.contains { $0.type == "routing_route_added" && $0.fields["address"] == "default" && $0.fields["gateway"] == "10.0.1.254" })
        #expect(events.contains { $0.type == "routing_rp_filter_set" && $0.fields["interface"] == "a1" && $0.fields["from"] == 1 && $0.fields["to"] == 2 })
    }

    @Test func routingMarkedAsOursWhoseRecordWasLostIsAdoptedAndGivenBackAtExit() throws {
        let rig = RoutingRig()
        let policy = try RoutingRig.policy()
        #expect(rig.owner().reconcile(policy: policy, network: rig.network, trigger: "start"))
        let made = (rules: rig.ownRules, routes: rig.ownRoutes.count)
        try FileManager.default.removeItem(atPath: rig.store.path)
        rig.routing.clearChanges()
        let restarted = rig.restarted()
        let owner = restarted.owner()
        #expect(owner.reconcile(policy: policy, network: restarted.network, trigger: "start"))
        #expect(!rig.routing.changes.contains { $0.hasPrefix("add ") || $0.hasPrefix("delete ") }, "adopted, not made again: \(rig.routing.changes)")
        let record = try restarted.store.load().routing
        #expect(record.ownedRules.count == made.rules.count && record.ownedRoutes.count == made.routes)
        owner.removeOwned(network: restarted.network)
        #expect(restarted.ownRules.isEmpty && restarted.ownRoutes.isEmpty)
    }

    @Test func theUserspacePathManagersSubflowSourcesGetTheirRulesToo() throws {
        let rig = RoutingRig()
        let policy = try PolicyLoader.load("""
            [kernel]
            path_manager = "userspace"
            [[interface]]
            name = "a1"
            role = "active"
            [[interface]]
            name = "a2"
            role = "handover"
            """, file: "test.toml")
        #expect(rig.owner().reconcile(policy: policy, network: rig.network, trigger: "start"))
        #expect(rig.ownRules.count == 2 + 1 && rig.ownRules.contains { $0.hasPrefix("from 10.0.2.1 ") },
                "no in-kernel endpoint, but each address a subflow may start from is routed: \(rig.ownRules)")
    }
}
