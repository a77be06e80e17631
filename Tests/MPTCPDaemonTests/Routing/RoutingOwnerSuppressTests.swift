import Foundation
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy
import Testing
@testable import MPTCPDaemon

/// The routing owner and the suppress rule, recorded rules against foreign
/// twins, and rp_filter values of interfaces that are gone.
@Suite struct RoutingOwnerSuppressTests {
    @Test func theSuppressRuleIsMadeBeforeTheSourceRulesAndAdoptedWithoutDuplicatesAfterALostRecord() throws {
        let rig = RoutingRig()
        let policy = try RoutingRig.policy()
        #expect(rig.owner().reconcile(policy: policy, network: rig.network, trigger: "start"))
        let suppress = RoutingRule.mainWithoutDefault(family: 2, priority: 7300)
        #expect(rig.routing.rulesTable.filter { $0 == suppress }.count == 1)
        let adds = rig.routing.changes.filter { $0.hasPrefix("add rule") }
        #expect(adds.first == "add rule from all table 254 suppress_prefixlength 0 pref 7300", "\(adds)")
        #expect(try rig.store.load().routing.owns(suppress))
        #expect(rig.log.lines.contains { $0.message == "source route: from all lookup main suppress_prefixlength 0 priority 7300" })
        // SIGKILL and a lost record: adopted, nothing made twice.
        try FileManager.default.removeItem(atPath: rig.store.path)
        rig.routing.clearChanges()
        let restarted = rig.restarted()
        #expect(restarted.owner().reconcile(policy: policy, network: restarted.network, trigger: "start"))
        #expect(rig.routing.changes.isEmpty, "\(rig.routing.changes)")
        #expect(try restarted.store.load().routing.owns(suppress))
        #expect(rig.routing.rulesTable.filter { $0 == suppress }.count == 1)
    }

    @Test func theSuppressRuleIsShownInStatusAndEvents() throws {
        let rig = RoutingRig()
        let owner = rig.owner()
        #expect(owner.reconcile(policy: try RoutingRig.policy(), network: rig.network, trigger: "start"))
        let status = RoutingStatusRecord(owned: owner.owned, notes: [], mode: .on)
        let rule = try #require(status.rules.first { $0.suppressPrefixLength != nil })
        #expect(rule.table == 254 && rule.source == "all" && rule.priority == 7300 && rule.interface == nil)
        #expect(try RoutingStatusRecord(json: status.json) == status)
        let events = rig.events.take().compactMap { item -> DaemonEvent? in
            guard case .event(let e) = item else { return nil }
            return e
        }
        #expect(events.contains { $0.type == "routing_rule_added" && $0.fields["suppress_prefix_length"] == 0 && $0.fields["table"] == 254 })
    }

    @Test func anIdenticalRuleOrRouteSomeoneElseMadeDoesNotKeepARecordedOnePresent() {
        let ours = RoutingRule(from: RoutingRig.address("10.0.1.1"), table: 7300, priority: 7301)
        var twin = ours
        twin.routingProtocol = RoutingProtocol.boot
        let route = Route(family: 2, table: 7300, destination: nil, destinationPrefixLength: 0, gateway: RoutingRig.address("10.0.1.254"),
                          outputInterface: 2, routingProtocol: RoutingProtocol.mptcpctl)
        var twinRoute = route
        twinRoute.routingProtocol = RoutingProtocol.boot
        let record = RoutingOwnership(rules: [OwnedRule(ours)], routes: [OwnedRoute(route)])
        var network = ReconcilerRig.network(addresses: ["10.0.1.1": 2])
        network.rules = [twin]
        network.routes = [twinRoute]
        let gone = record.vanished(from: network)
        #expect(gone.rules == [ours] && gone.routes == [route])
        // Nor is a foreign twin adopted as ours.
        let adopted = RoutingOwnership().adopting(record, present: network)
        #expect(adopted.rules.isEmpty && adopted.routes.isEmpty)
        network.rules = [ours]
        network.routes = [route]
        #expect(record.vanished(from: network).rules.isEmpty && RoutingOwnership().adopting(record, present: network) == record)
    }

    @Test func theRpFilterValueOfAnInterfaceThatIsGoneIsForgottenNotRestoredOntoANewOneOfItsName() throws {
        let rig = RoutingRig()
        let owner = rig.owner()
        let policy = try RoutingRig.policy()
        #expect(owner.reconcile(policy: policy, network: rig.network, trigger: "start"))
        #expect(try rig.store.load().routing.reversePathFilter == ["a1": 1])
        // a1 is deleted (a veth, a ppp link): its sysctls go with it.
        rig.network.links.removeAll { $0.name == "a1" }
        rig.network.addresses.removeAll { $0.interfaceIndex == 2 }
        rig.routing.reversePathFilters["a1"] = nil
        rig.routing.removeAll { $0.outputInterface == 2 }
        #expect(owner.reconcile(policy: policy, network: rig.network, trigger: "network"))
        #expect(try rig.store.load().routing.reversePathFilter.isEmpty)
        let forgot = rig.log.lines("forgot the rp_filter value found on an interface that is gone")
        #expect(forgot.count == 1 && forgot.first?.level == .info && forgot.first?.metadata["interface"] == "a1")
        // A new a1, loose from the start: nothing is "given back" to it at exit.
        rig.network = ReconcilerRig.network(addresses: ["10.0.1.1": 2, "10.0.2.1": 3])
        rig.routing.reversePathFilters["a1"] = 2
        #expect(owner.reconcile(policy: policy, network: rig.network, trigger: "network"))
        owner.removeOwned(network: rig.network)
        #expect(rig.routing.reversePathFilters["a1"] == 2)
    }

    @Test func anExitWithoutKnownLinksKeepsTheRpFilterRecordForTheNextRun() throws {
        let rig = RoutingRig()
        let owner = rig.owner()
        #expect(owner.reconcile(policy: try RoutingRig.policy(), network: rig.network, trigger: "start"))
        owner.removeOwned(network: nil)
        #expect(try rig.store.load().routing.reversePathFilter == ["a1": 1])
    }
}
