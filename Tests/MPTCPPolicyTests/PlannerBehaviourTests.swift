import MPTCPKit
import MPTCPPolicy
import PropertyBased
import Testing

/// A network built link by link, for the planner.
private struct Net {
    var links: [Link] = []
    var addresses: [InterfaceAddress] = []
    var routes: Set<DefaultRoute> = []

    /// Adds a link; indexes start at 2 (1 is `lo` on a real system).
    @discardableResult
    mutating func link(_ name: String, flags: UInt32 = 0x1, oper: Link.OperState = .up) -> Int32 {
        let index = Int32(links.count + 2)
        links.append(Link(index: index, name: name, flags: flags, operState: oper))
        return index
    }

    mutating func address(_ text: String, on index: Int32, flags: UInt32 = 0) {
        addresses.append(InterfaceAddress(address: ip(text), prefixLength: text.contains(":") ? 64 : 24, interfaceIndex: index, flags: flags))
    }

    var snapshot: NetworkSnapshot { NetworkSnapshot(links: links, addresses: addresses, defaultRoutes: routes) }
}

private func ip(_ text: String) -> IPAddress { IPAddress(text)! }

private func block(_ names: [String], _ role: Role, _ position: Int, announce: Bool = false, fullmesh: Bool = false,
                   families: Set<MPTCPPolicy.AddressFamily> = [.ipv4, .ipv6], skipLinkLocal: Bool = true,
                   requireDefaultRoute: Bool = false) -> InterfaceRule {
    InterfaceRule(names: names.map { try! Glob($0) }, role: role, announce: announce, fullmesh: fullmesh, families: families,
                  skipLinkLocal: skipLinkLocal, requireDefaultRoute: requireDefaultRoute, position: position)
}

private func owned(_ endpoints: Endpoint...) -> Set<OwnedEndpoint> {
    Set(endpoints.map { OwnedEndpoint(id: $0.id, address: $0.address) })
}

/// The kernel as the daemon would leave it after carrying out `plan`: endpoints and the ownership store.
private func carryOut(_ plan: EndpointPlan, endpoints: [Endpoint], owned: Set<OwnedEndpoint>) -> ([Endpoint], Set<OwnedEndpoint>) {
    var endpoints = endpoints
    var owned = owned.subtracting(plan.staleOwnership)
    for change in plan.changes {
        switch change {
        case .delete(let e, _):
            #expect(endpoints.contains { $0.id == e.id }, "delete of an endpoint the kernel does not have: \(e)")
            endpoints.removeAll { $0.id == e.id }
            owned.remove(OwnedEndpoint(id: e.id, address: e.address))
        case .setFlags(let e, let flags, _):
            guard let i = endpoints.firstIndex(where: { $0.id == e.id }) else {
                Issue.record("flags set on an endpoint the kernel does not have: \(e)")
                continue
            }
            endpoints[i].flags = flags
        case .add(let e, _):
            #expect(!endpoints.contains { $0.id == e.id }, "add with an id in use: \(e)")
            #expect(!endpoints.contains { $0.address == e.address }, "add of an address the kernel has: \(e)")
            endpoints.append(e)
            owned.insert(OwnedEndpoint(id: e.id, address: e.address))
        }
    }
    return (endpoints, owned)
}

private extension EndpointPlan {
    var adds: [Endpoint] { changes.compactMap { if case .add(let e, _) = $0 { e } else { nil } } }
    var deletes: [Endpoint] { changes.compactMap { if case .delete(let e, _) = $0 { e } else { nil } } }
    var addedAddresses: [String] { adds.map(\.address.description) }
    func skipReason(_ address: String) -> String? { skipped.first { $0.address == ip(address) }?.reason }
}

@Suite struct PlannerBehaviourTests {
    /// docker/lo off, eth active, wwan backup, lte handover.
    let standard = Policy(interfaces: [
        block(["lo", "docker*"], .off, 1),
        block(["eth*"], .active, 2),
        block(["wwan*"], .backup, 3),
        block(["lte*"], .handover, 4),
    ])

    private func desired(_ net: Net, _ policy: Policy) -> ([DesiredEndpoint], [IPAddress: String]) {
        var excluded: [IPAddress: String] = [:]
        let d = Planner.desiredEndpoints(policy: policy, network: net.snapshot, excluded: &excluded)
        return (d, excluded)
    }

    private func plan(_ net: Net, _ policy: Policy? = nil, endpoints: [Endpoint] = [], owned: Set<OwnedEndpoint> = []) -> EndpointPlan {
        Planner.plan(policy: policy ?? standard, network: net.snapshot, endpoints: endpoints, owned: owned)
    }

    // MARK: desiredEndpoints

    @Test func rolesGiveSubflowSubflowBackupOrNothing() {
        var net = Net()
        let eth = net.link("eth0"), wwan = net.link("wwan0"), lte = net.link("lte0"), docker = net.link("docker0")
        net.address("10.0.0.1", on: eth)
        net.address("10.1.0.1", on: wwan)
        net.address("10.2.0.1", on: lte)
        net.address("172.17.0.1", on: docker)
        let (wanted, excluded) = desired(net, standard)
        #expect(wanted.map(\.address) == [ip("10.0.0.1"), ip("10.1.0.1"), ip("10.2.0.1")])
        #expect(wanted.map(\.flags) == [[.subflow], [.subflow, .backup], [.subflow, .backup]])
        #expect(wanted.map(\.role) == [.active, .backup, .handover])
        #expect(wanted.map(\.interfaceIndex) == [eth, wwan, lte])
        #expect(wanted.map(\.interfaceName) == ["eth0", "wwan0", "lte0"])
        #expect(wanted.map(\.rule) == [2, 3, 4])
        #expect(wanted[0].reason == "eth0 is active (interface[2] \"eth*\")")
        #expect(excluded[ip("172.17.0.1")] == "docker0 is off (interface[1] \"lo\",\"docker*\")")
    }

    @Test func announceAddsSignalAndFullmeshAddsFullmesh() {
        var net = Net()
        net.address("10.0.0.1", on: net.link("eth0"))
        net.address("10.0.1.1", on: net.link("eth1"))
        net.address("10.0.2.1", on: net.link("eth2"))
        let policy = Policy(interfaces: [
            block(["eth0"], .active, 1, announce: true),
            block(["eth1"], .active, 2, fullmesh: true),
            block(["eth2"], .backup, 3, announce: true),
        ])
        let (wanted, _) = desired(net, policy)
        #expect(wanted.map(\.flags) == [[.subflow, .signal], [.subflow, .fullmesh], [.subflow, .backup, .signal]])
        #expect(wanted[0].reason.contains("announced") && wanted[1].reason.contains("fullmesh"))
    }

    @Test func firstMatchingBlockWins() {
        var net = Net()
        net.address("10.0.0.1", on: net.link("eth0"))
        net.address("10.0.1.1", on: net.link("eth1"))
        let policy = Policy(interfaces: [block(["eth0"], .backup, 1), block(["eth*"], .active, 2), block(["eth1"], .off, 3)])
        let (wanted, _) = desired(net, policy)
        #expect(wanted.map(\.address) == [ip("10.0.1.1"), ip("10.0.0.1")], "active first")
        #expect(wanted.map(\.role) == [.active, .backup])
        #expect(wanted.map(\.rule) == [2, 1])
    }

    @Test func interfaceMatchingNoBlockIsUnused() {
        var net = Net()
        net.address("10.8.0.1", on: net.link("tun0"))
        let (wanted, excluded) = desired(net, standard)
        #expect(wanted.isEmpty)
        #expect(excluded[ip("10.8.0.1")] == "tun0 matches no [[interface]] block")
        #expect(plan(net).changes.isEmpty)
        #expect(plan(net).skipReason("10.8.0.1") == "tun0 matches no [[interface]] block")
    }

    @Test func addressOnAVanishedInterfaceIsUnused() {
        var net = Net()
        net.link("eth0")
        net.addresses.append(InterfaceAddress(address: ip("10.0.0.1"), prefixLength: 24, interfaceIndex: 42))
        let (wanted, excluded) = desired(net, standard)
        #expect(wanted.isEmpty)
        #expect(excluded[ip("10.0.0.1")] == "its interface (index 42) is gone")
    }

    @Test func linkNotAdministrativelyUpIsExcluded() {
        var net = Net()
        net.address("10.0.0.1", on: net.link("eth0", flags: 0x1000, oper: .up))   // IFF_MULTICAST only
        let (wanted, excluded) = desired(net, standard)
        #expect(wanted.isEmpty)
        #expect(excluded[ip("10.0.0.1")] == "eth0 is down (administratively)")
    }

    @Test(arguments: [(Link.OperState.down, "down"), (.lowerLayerDown, "lowerlayerdown"), (.dormant, "dormant"), (.notPresent, "notpresent")])
    func linkOperationallyDownIsExcluded(_ state: Link.OperState, _ name: String) {
        var net = Net()
        net.address("10.0.0.1", on: net.link("eth0", oper: state))
        let (wanted, excluded) = desired(net, standard)
        #expect(wanted.isEmpty)
        #expect(excluded[ip("10.0.0.1")] == "eth0 is down (state \(name))")
    }

    @Test func linkInUnknownOperStateIsUsable() {
        var net = Net()
        net.address("10.0.0.1", on: net.link("eth0", flags: 0x1 | 0x40, oper: .unknown))
        #expect(desired(net, standard).0.map(\.address) == [ip("10.0.0.1")])
    }

    @Test(arguments: [(UInt32(0x40), "tentative"), (0x20, "deprecated"), (0x08, "duplicate address detection failed")])
    func unsettledOrDeprecatedAddressIsExcluded(_ flags: UInt32, _ reason: String) {
        var net = Net()
        let eth = net.link("eth0")
        net.address("2001:db8::1", on: eth, flags: flags)
        net.address("2001:db8::2", on: eth, flags: 0x80)  // IFA_F_PERMANENT: fine
        let (wanted, excluded) = desired(net, standard)
        #expect(wanted.map(\.address) == [ip("2001:db8::2")])
        #expect(excluded[ip("2001:db8::1")]?.contains(reason) == true, "\(excluded)")
    }

    @Test func linkLocalIsExcludedUnlessSkipLinkLocalIsOff() {
        var net = Net()
        let eth = net.link("eth0")
        net.address("fe80::1", on: eth)
        net.address("169.254.1.1", on: eth)
        net.address("febf::1", on: eth)      // still fe80::/10
        net.address("fec0::1", on: eth)      // outside fe80::/10
        net.address("169.253.1.1", on: eth)  // outside 169.254/16
        let (wanted, excluded) = desired(net, standard)
        #expect(Set(wanted.map(\.address)) == [ip("fec0::1"), ip("169.253.1.1")])
        #expect(excluded[ip("fe80::1")] == "link-local (skip_link_local in interface[2] \"eth*\")")
        #expect(excluded[ip("169.254.1.1")] != nil && excluded[ip("febf::1")] != nil)

        let keep = Policy(interfaces: [block(["eth*"], .active, 1, skipLinkLocal: false)])
        #expect(Set(desired(net, keep).0.map(\.address)) == [ip("fe80::1"), ip("169.254.1.1"), ip("febf::1"), ip("fec0::1"), ip("169.253.1.1")])
    }

    @Test func loopbackAndUnspecifiedAreExcludedEvenWithLinkLocalAllowed() {
        var net = Net()
        let eth = net.link("eth0")
        for a in ["127.0.0.1", "127.1.2.3", "::1", "0.0.0.0", "::"] { net.address(a, on: eth) }
        net.address("10.0.0.1", on: eth)
        let keep = Policy(interfaces: [block(["eth*"], .active, 1, skipLinkLocal: false)])
        let (wanted, excluded) = desired(net, keep)
        #expect(wanted.map(\.address) == [ip("10.0.0.1")])
        for a in ["127.0.0.1", "127.1.2.3", "::1", "0.0.0.0", "::"] {
            #expect(excluded[ip(a)] == "a loopback or unspecified address", "\(a)")
        }
    }

    @Test func familiesFilterAddresses() {
        var net = Net()
        let eth = net.link("eth0")
        net.address("10.0.0.1", on: eth)
        net.address("2001:db8::1", on: eth)
        let v4 = Policy(interfaces: [block(["eth0"], .active, 1, families: [.ipv4])])
        let v6 = Policy(interfaces: [block(["eth0"], .active, 1, families: [.ipv6])])
        #expect(desired(net, v4).0.map(\.address) == [ip("10.0.0.1")])
        #expect(desired(net, v4).1[ip("2001:db8::1")] == "ipv6 is not in the families of interface[1] \"eth0\"")
        #expect(desired(net, v6).0.map(\.address) == [ip("2001:db8::1")])
        #expect(desired(net, v6).1[ip("10.0.0.1")] == "ipv4 is not in the families of interface[1] \"eth0\"")
    }

    @Test func requireDefaultRouteNeedsARouteOfTheSameFamilyThroughThatInterface() {
        var net = Net()
        let eth0 = net.link("eth0"), eth1 = net.link("eth1")
        net.address("10.0.0.1", on: eth0)
        net.address("2001:db8::1", on: eth0)
        net.address("10.0.1.1", on: eth1)
        net.address("2001:db8:1::1", on: eth1)
        let policy = Policy(interfaces: [block(["eth*"], .active, 1, requireDefaultRoute: true)])

        #expect(desired(net, policy).0.isEmpty, "no default route at all")
        net.routes = [DefaultRoute(family: 2, interfaceIndex: eth0), DefaultRoute(family: 10, interfaceIndex: eth1)]
        let (wanted, excluded) = desired(net, policy)
        #expect(wanted.map(\.address) == [ip("10.0.0.1"), ip("2001:db8:1::1")])
        #expect(excluded[ip("2001:db8::1")] == "no ipv6 default route leaves through eth0 (require_default_route)")
        #expect(excluded[ip("10.0.1.1")] == "no ipv4 default route leaves through eth1 (require_default_route)")

        let relaxed = Policy(interfaces: [block(["eth*"], .active, 1)])
        #expect(desired(net, relaxed).0.count == 4, "without the key routes do not matter")
    }

    @Test func sameAddressOnTwoInterfacesIsWantedOnceByPriority() {
        var net = Net()
        let wwan = net.link("wwan0"), eth = net.link("eth0")
        net.address("10.0.0.1", on: wwan)
        net.address("10.0.0.1", on: eth)
        let (wanted, _) = desired(net, standard)
        #expect(wanted.count == 1)
        #expect(wanted.first?.interfaceIndex == eth && wanted.first?.role == .active)
    }

    // MARK: The cap

    @Test func capKeepsEightOrderedActiveFirstThenBlockNameFamilyAddress() {
        var net = Net()
        // Declared in an order unlike the priority order.
        let wwan = net.link("wwan0"), ethB = net.link("eth1"), ethA = net.link("eth0"), lan = net.link("lan0")
        net.address("10.3.0.1", on: wwan)
        net.address("10.3.0.2", on: wwan)
        net.address("2001:db8:1::1", on: ethB)
        net.address("10.1.0.9", on: ethB)
        net.address("2001:db8::1", on: ethA)
        net.address("10.0.0.2", on: ethA)
        net.address("10.0.0.1", on: ethA)
        net.address("10.4.0.1", on: lan)
        net.address("10.4.0.2", on: lan)
        net.address("10.3.0.3", on: wwan)
        #expect(net.addresses.count == 10)
        let policy = Policy(interfaces: [
            block(["wwan*"], .backup, 1),
            block(["lan*"], .active, 2),
            block(["eth*"], .active, 3),
        ])
        let p = plan(net, policy)
        #expect(p.addedAddresses == [
            "10.4.0.1", "10.4.0.2",                              // active, block 2
            "10.0.0.1", "10.0.0.2", "2001:db8::1",               // active, block 3, eth0: IPv4 first, then by address
            "10.1.0.9", "2001:db8:1::1",                         // active, block 3, eth1
            "10.3.0.1",                                          // backup, block 1
        ])
        #expect(p.desired.map(\.address.description) == p.addedAddresses)
        #expect(p.warnings.count == 1)
        let warning = p.warnings[0]
        #expect(warning.hasPrefix("the kernel holds at most 8 endpoints; not using "), "\(warning)")
        #expect(warning.contains("10.3.0.2 (wwan0, backup)") && warning.contains("10.3.0.3 (wwan0, backup)"))
        #expect(!warning.contains("10.3.0.1"))
        #expect(p.skipReason("10.3.0.2") == "left out by the 8-endpoint cap")
        #expect(p.skipReason("10.3.0.3") == "left out by the 8-endpoint cap")
        #expect(p.skipped.count == 2)
    }

    @Test func smallerCapIsHonoured() {
        var net = Net()
        let eth = net.link("eth0")
        for i in 1...4 { net.address("10.0.0.\(i)", on: eth) }
        let p = Planner.plan(policy: standard, network: net.snapshot, endpoints: [], owned: [], cap: 2)
        #expect(p.addedAddresses == ["10.0.0.1", "10.0.0.2"])
        #expect(p.warnings.first?.contains("at most 2 endpoints") == true)
    }

    @Test func foreignEndpointsCountAgainstTheCapAndAreNeverTouched() {
        var net = Net()
        let eth = net.link("eth0")
        for i in 1...8 { net.address("10.0.0.\(i)", on: eth) }
        let foreign = [
            Endpoint(id: 1, address: ip("192.0.2.1"), flags: .signal),
            Endpoint(id: 2, address: ip("192.0.2.2"), flags: [.subflow, .backup], interfaceIndex: eth),
            Endpoint(id: 3, address: ip("192.0.2.3"), port: 8080, flags: .signal),
        ]
        let p = plan(net, endpoints: foreign)
        #expect(p.foreign == foreign)
        #expect(p.adds.count == 5, "8 slots minus 3 foreign")
        #expect(p.addedAddresses == ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"])
        #expect(p.warnings.first?.contains("at most 8 endpoints (3 foreign)") == true)
        #expect(p.deletes.isEmpty)
        #expect(!p.changes.contains { c in foreign.contains { $0.id == c.endpoint.id } })
    }

    @Test func foreignEndpointWithAnOwnedLookingIDButOtherAddressIsNotOurs() {
        var net = Net()
        net.link("eth0")
        // The store says id 4 was ours for 10.0.0.4, but the kernel's id 4 now holds something else.
        let theirs = Endpoint(id: 4, address: ip("192.0.2.4"), flags: .subflow)
        let p = plan(net, endpoints: [theirs], owned: [OwnedEndpoint(id: 4, address: ip("10.0.0.4"))])
        #expect(p.foreign == [theirs])
        #expect(p.changes.isEmpty)
        #expect(p.staleOwnership == [OwnedEndpoint(id: 4, address: ip("10.0.0.4"))])
    }

    @Test func addressHeldByAForeignEndpointIsWarnedAboutAndNotAdded() {
        var net = Net()
        let eth = net.link("eth0")
        net.address("10.0.0.1", on: eth)
        net.address("10.0.0.2", on: eth)
        let foreign = Endpoint(id: 9, address: ip("10.0.0.1"), flags: .signal)
        let p = plan(net, endpoints: [foreign])
        #expect(p.addedAddresses == ["10.0.0.2"])
        #expect(p.warnings == ["10.0.0.1 (eth0) is wanted but held by a foreign endpoint (id 9); left alone"])
        #expect(!p.changes.contains { $0.endpoint.id == 9 })
        #expect(!p.desired.contains { $0.address == ip("10.0.0.1") })
    }

    // MARK: Changes to owned endpoints

    @Test func ownedEndpointWhoseAddressVanishedIsDeletedWithAReason() {
        var net = Net()
        let eth = net.link("eth0")
        net.address("10.0.0.1", on: eth)
        let gone = Endpoint(id: 1, address: ip("10.0.0.9"), flags: .subflow, interfaceIndex: eth)
        let kept = Endpoint(id: 2, address: ip("10.0.0.1"), flags: .subflow, interfaceIndex: eth)
        let p = plan(net, endpoints: [gone, kept], owned: owned(gone, kept))
        #expect(p.changes == [.delete(gone, reason: "the address is no longer on any interface")])
    }

    @Test func ownedEndpointOnALinkThatWentDownIsDeletedWithTheExclusionReason() {
        var net = Net()
        let eth = net.link("eth0", oper: .down)
        net.address("10.0.0.1", on: eth)
        let e = Endpoint(id: 1, address: ip("10.0.0.1"), flags: .subflow, interfaceIndex: eth)
        let p = plan(net, endpoints: [e], owned: owned(e))
        #expect(p.changes == [.delete(e, reason: "eth0 is down (state down)")])
    }

    @Test func ownedEndpointLeftOutByTheCapIsDeleted() {
        var net = Net()
        let eth = net.link("eth0"), wwan = net.link("wwan0")
        net.address("10.1.0.1", on: wwan)
        let backup = Endpoint(id: 1, address: ip("10.1.0.1"), flags: [.subflow, .backup], interfaceIndex: wwan)
        net.address("10.0.0.1", on: eth)
        net.address("10.0.0.2", on: eth)
        let p = Planner.plan(policy: standard, network: net.snapshot, endpoints: [backup], owned: owned(backup), cap: 2)
        #expect(p.deletes == [backup])
        #expect(p.changes.first?.reason == "left out by the 2-endpoint cap")
        #expect(p.adds.map(\.id) == [2, 3])
    }

    @Test func roleChangeFlipsFlagsInPlace() {
        var net = Net()
        let eth = net.link("eth0")
        net.address("10.0.0.1", on: eth)
        let e = Endpoint(id: 5, address: ip("10.0.0.1"), flags: .subflow, interfaceIndex: eth)
        let toBackup = Policy(interfaces: [block(["eth0"], .backup, 1)])
        let p = plan(net, toBackup, endpoints: [e], owned: owned(e))
        #expect(p.changes.count == 1)
        guard case .setFlags(let target, let flags, let reason)? = p.changes.first else {
            Issue.record("expected one setFlags, got \(p.changes)")
            return
        }
        #expect(target == e, "the id and the endpoint are kept")
        #expect(flags == [.subflow, .backup])
        #expect(reason == "eth0 is backup (interface[1] \"eth0\")")

        // And back again.
        var backup = e
        backup.flags = [.subflow, .backup]
        #expect(plan(net, endpoints: [backup], owned: owned(backup)).changes == [.setFlags(backup, to: .subflow, reason: "eth0 is active (interface[2] \"eth*\")")])
    }

    @Test func fullmeshChangeFlipsFlagsInPlace() {
        var net = Net()
        let eth = net.link("eth0")
        net.address("10.0.0.1", on: eth)
        let e = Endpoint(id: 5, address: ip("10.0.0.1"), flags: .subflow, interfaceIndex: eth)
        let p = plan(net, Policy(interfaces: [block(["eth0"], .active, 1, fullmesh: true)]), endpoints: [e], owned: owned(e))
        #expect(p.changes.map(\.endpoint.id) == [5])
        guard case .setFlags(_, let flags, _)? = p.changes.first else { Issue.record("\(p.changes)"); return }
        #expect(flags == [.subflow, .fullmesh])
    }

    @Test func announceChangeDeletesThenAdds() {
        var net = Net()
        let eth = net.link("eth0")
        net.address("10.0.0.1", on: eth)
        let e = Endpoint(id: 1, address: ip("10.0.0.1"), flags: .subflow, interfaceIndex: eth)
        let p = plan(net, Policy(interfaces: [block(["eth0"], .active, 1, announce: true)]), endpoints: [e], owned: owned(e))
        #expect(p.changes.count == 2)
        guard case .delete(let old, let why)? = p.changes.first, case .add(let new, _)? = p.changes.last else {
            Issue.record("\(p.changes)")
            return
        }
        #expect(old == e)
        #expect(why.hasPrefix("replaced: "))
        #expect(new == Endpoint(id: 2, address: ip("10.0.0.1"), flags: [.subflow, .signal], interfaceIndex: eth))

        // Un-announcing replaces it too.
        let announced = Endpoint(id: 2, address: ip("10.0.0.1"), flags: [.subflow, .signal], interfaceIndex: eth)
        let q = plan(net, endpoints: [announced], owned: owned(announced))
        #expect(q.deletes == [announced] && q.adds.map(\.flags) == [.subflow])
    }

    @Test func interfaceIndexChangeDeletesThenAdds() {
        var net = Net()
        let eth0 = net.link("eth0"), eth1 = net.link("eth1")
        net.address("10.0.0.1", on: eth1)  // moved from eth0 to eth1
        let e = Endpoint(id: 1, address: ip("10.0.0.1"), flags: .subflow, interfaceIndex: eth0)
        let p = plan(net, endpoints: [e], owned: owned(e))
        #expect(p.deletes == [e])
        #expect(p.adds == [Endpoint(id: 2, address: ip("10.0.0.1"), flags: .subflow, interfaceIndex: eth1)])
    }

    @Test func ownedEndpointWithAPortIsReplaced() {
        var net = Net()
        let eth = net.link("eth0")
        net.address("10.0.0.1", on: eth)
        let e = Endpoint(id: 1, address: ip("10.0.0.1"), port: 1234, flags: .subflow, interfaceIndex: eth)
        let p = plan(net, endpoints: [e], owned: owned(e))
        #expect(p.deletes == [e] && p.adds.map(\.port) == [0])
    }

    @Test func secondOwnedEndpointForTheSameAddressIsDeleted() {
        var net = Net()
        let eth = net.link("eth0")
        net.address("10.0.0.1", on: eth)
        let a = Endpoint(id: 1, address: ip("10.0.0.1"), flags: .subflow, interfaceIndex: eth)
        let b = Endpoint(id: 2, address: ip("10.0.0.1"), flags: .subflow, interfaceIndex: eth)
        let p = plan(net, endpoints: [b, a], owned: owned(a, b))
        #expect(p.changes == [.delete(b, reason: "a second endpoint for the same address")])
    }

    @Test func newEndpointsTakeTheLowestIDsNoExistingEndpointUses() {
        var net = Net()
        let eth = net.link("eth0")
        for i in 1...3 { net.address("10.0.0.\(i)", on: eth) }
        let foreign = Endpoint(id: 1, address: ip("192.0.2.1"), flags: .signal)
        let stale = Endpoint(id: 3, address: ip("10.9.9.9"), flags: .subflow, interfaceIndex: eth)   // owned, being deleted
        let p = plan(net, endpoints: [foreign, stale], owned: owned(stale))
        #expect(p.deletes == [stale])
        #expect(p.adds.map(\.id) == [2, 4, 5], "ids 1 (foreign) and 3 (deleted in the same plan) are skipped")
    }

    @Test func changesAreOrderedDeletesThenSetsThenAdds() {
        var net = Net()
        let eth = net.link("eth0"), wwan = net.link("wwan0")
        net.address("10.0.0.1", on: eth)
        net.address("10.1.0.1", on: wwan)
        net.address("10.0.0.2", on: eth)
        let flip = Endpoint(id: 3, address: ip("10.1.0.1"), flags: .subflow, interfaceIndex: wwan)      // → backup
        let gone1 = Endpoint(id: 7, address: ip("10.7.0.1"), flags: .subflow, interfaceIndex: eth)
        let flip2 = Endpoint(id: 1, address: ip("10.0.0.1"), flags: [.subflow, .backup], interfaceIndex: eth)  // → active
        let gone2 = Endpoint(id: 2, address: ip("10.7.0.2"), flags: .subflow, interfaceIndex: eth)
        let p = plan(net, endpoints: [flip, gone1, flip2, gone2], owned: owned(flip, gone1, flip2, gone2))
        let kinds = p.changes.map { c -> String in
            switch c {
            case .delete: "delete"
            case .setFlags: "set"
            case .add: "add"
            }
        }
        #expect(kinds == ["delete", "delete", "set", "set", "add"])
        #expect(p.changes.map(\.endpoint.id) == [2, 7, 1, 3, 4], "by id within each kind; the add takes the first free id")
    }

    @Test func staleOwnershipListsOwnedEntriesTheKernelLacks() {
        var net = Net()
        let eth = net.link("eth0")
        net.address("10.0.0.1", on: eth)
        let present = Endpoint(id: 2, address: ip("10.0.0.1"), flags: .subflow, interfaceIndex: eth)
        let store: Set<OwnedEndpoint> = [
            OwnedEndpoint(id: 2, address: ip("10.0.0.1")),
            OwnedEndpoint(id: 9, address: ip("10.0.0.9")),
            OwnedEndpoint(id: 4, address: ip("2001:db8::4")),
        ]
        let p = plan(net, endpoints: [present], owned: store)
        #expect(p.staleOwnership == [OwnedEndpoint(id: 4, address: ip("2001:db8::4")), OwnedEndpoint(id: 9, address: ip("10.0.0.9"))])
        #expect(p.changes.isEmpty)
        #expect(p.foreign.isEmpty)
    }

    @Test func planAgainstAConvergedKernelIsEmpty() {
        var net = Net()
        let eth = net.link("eth0"), wwan = net.link("wwan0"), lte = net.link("lte0")
        net.address("10.0.0.1", on: eth)
        net.address("2001:db8::1", on: eth)
        net.address("10.1.0.1", on: wwan)
        net.address("10.2.0.1", on: lte)
        let foreign = Endpoint(id: 1, address: ip("192.0.2.1"), flags: .signal)
        let stale = Endpoint(id: 2, address: ip("10.9.0.1"), flags: .subflow, interfaceIndex: eth)
        var endpoints = [foreign, stale]
        var store = owned(stale).union([OwnedEndpoint(id: 77, address: ip("10.77.0.1"))])
        let first = plan(net, endpoints: endpoints, owned: store)
        #expect(!first.isEmpty)
        (endpoints, store) = carryOut(first, endpoints: endpoints, owned: store)
        let second = plan(net, endpoints: endpoints, owned: store)
        #expect(second.isEmpty, "\(second.changes)")
        #expect(second.staleOwnership.isEmpty)
        #expect(second.desired == first.desired)
        #expect(endpoints.count == 5 && endpoints.contains(foreign))
    }

    @Test func emptyPolicyRemovesEveryOwnedEndpointAndKeepsForeignOnes() {
        var net = Net()
        let eth = net.link("eth0")
        net.address("10.0.0.1", on: eth)
        let mine = Endpoint(id: 1, address: ip("10.0.0.1"), flags: .subflow, interfaceIndex: eth)
        let theirs = Endpoint(id: 2, address: ip("192.0.2.1"), flags: .signal)
        let p = plan(net, Policy(), endpoints: [mine, theirs], owned: owned(mine))
        #expect(p.changes == [.delete(mine, reason: "eth0 matches no [[interface]] block")])
    }

    // MARK: Property

    @Test func randomWorldsConvergeUnderTheCapAndLeaveForeignEndpointsAlone() async {
        let names = ["eth0", "eth1", "wlan0", "wwan0", "lte0", "docker0"]
        // Per link: bit 0 admin down, bit 1 oper down, bit 2 oper unknown. Per address: link, family, flags.
        await propertyCheck(count: 400, input: Gen.uint8(in: 0...7).array(of: 6), Gen.uint16().array(of: 0...16),
                            Gen.uint8().array(of: 5), Gen.uint8(in: 0...4), Gen.uint8()) { linkBits, addressBits, ruleBits, foreignCount, routeBits in
            var net = Net()
            var indexes: [Int32] = []
            for (i, bits) in linkBits.enumerated() {
                indexes.append(net.link(names[i], flags: bits & 1 == 0 ? 0x1 : 0, oper: bits & 2 != 0 ? .down : bits & 4 != 0 ? .unknown : .up))
            }
            for (i, bits) in addressBits.enumerated() {
                let on = indexes[Int(bits & 0x7) % indexes.count]
                let n = (bits >> 3) & 0x7   // few distinct values, so addresses repeat across links
                let text = switch (bits >> 6) & 0x3 {
                case 0: "10.0.\(n).\(i % 3 + 1)"
                case 1: "2001:db8:\(n)::\(i % 3 + 1)"
                case 2: "fe80::\(n + 1)"
                default: "192.0.2.\(n + 1)"     // sometimes a foreign endpoint's address
                }
                let flags: UInt32 = [0, 0, 0, 0x40, 0x20, 0x80, 0, 0][Int(bits >> 8) & 0x7]
                net.address(text, on: on, flags: flags)
            }
            for (i, index) in indexes.enumerated() where routeBits & (1 << UInt8(i)) != 0 {
                net.routes.insert(DefaultRoute(family: i % 2 == 0 ? 2 : 10, interfaceIndex: index))
            }
            func rules(_ bits: [UInt8]) -> Policy {
                let patterns: [[String]] = [["eth0"], ["eth*", "wl*"], ["wwan*"], ["lte?"], ["docker*", "*"]]
                return Policy(interfaces: patterns.enumerated().map { i, names in
                    let b = bits[i]
                    let role = Role.allCases[Int(b & 0x3)]
                    let announce = b & 0x4 != 0, fullmesh = !announce && b & 0x8 != 0
                    let families: Set<MPTCPPolicy.AddressFamily> = [[.ipv4, .ipv6], [.ipv4], [.ipv6], [.ipv4, .ipv6]][Int(b >> 4) & 0x3]
                    return block(names, role, i + 1, announce: announce, fullmesh: fullmesh, families: families,
                                 skipLinkLocal: b & 0x40 == 0, requireDefaultRoute: b & 0x80 != 0)
                })
            }
            let foreign = (0..<Int(foreignCount)).map {
                Endpoint(id: UInt8(1 + 2 * $0), address: ip("192.0.2.\($0 + 1)"), flags: .signal)   // ids 1, 3, 5, 7
            }
            // A first policy, carried out; then another (the bits rotated), carried out; then re-planned.
            var endpoints = foreign
            var store: Set<OwnedEndpoint> = [OwnedEndpoint(id: 200, address: ip("10.200.0.1"))]
            for policy in [rules(ruleBits), rules(ruleBits.map { $0 &* 37 &+ 11 })] {
                let p = Planner.plan(policy: policy, network: net.snapshot, endpoints: endpoints, owned: store)
                #expect(p.foreign == foreign)
                #expect(!p.changes.contains { c in foreign.contains { $0.id == c.endpoint.id } }, "foreign endpoints are never changed")
                #expect(Set(p.adds.map(\.id)).count == p.adds.count)
                #expect(p.adds.allSatisfy { a in a.id != 0 && !endpoints.contains { $0.id == a.id } }, "fresh ids")
                (endpoints, store) = carryOut(p, endpoints: endpoints, owned: store)
                #expect(endpoints.count <= Planner.endpointCap)
                #expect(foreign.allSatisfy { endpoints.contains($0) }, "foreign endpoints survive unchanged")
                #expect(Set(endpoints.map(\.address)).count == endpoints.count, "one endpoint per address")
                #expect(store == Set(endpoints.filter { !foreign.contains($0) }.map { OwnedEndpoint(id: $0.id, address: $0.address) }))
                let again = Planner.plan(policy: policy, network: net.snapshot, endpoints: endpoints, owned: store)
                #expect(again.changes.isEmpty, "converged: \(again.changes)")
                #expect(again.staleOwnership.isEmpty)
            }
        }
    }

    // MARK: Namespace settings

    static let current = KernelSettingsSnapshot(pathManager: "kernel", scheduler: "default", limits: Limits(subflows: 2, addAddrAccepted: 1))

    @Test func keepChangesNoSetting() {
        #expect(Planner.settingsChanges(policy: Policy(), current: Self.current).isEmpty)
    }

    @Test func valuesEqualToTheKernelsChangeNothing() {
        var policy = Policy()
        policy.kernel.pathManager = "kernel"
        policy.kernel.scheduler = "default"
        policy.kernel.subflowsLimit = 2
        policy.kernel.addAddrAcceptedLimit = 1
        #expect(Planner.settingsChanges(policy: policy, current: Self.current).isEmpty)
    }

    @Test func onlyDifferingValuesProduceChanges() {
        var policy = Policy()
        policy.kernel.pathManager = "userspace"
        policy.kernel.scheduler = "default"
        #expect(Planner.settingsChanges(policy: policy, current: Self.current) == [.pathManager(from: "kernel", to: "userspace")])
        policy.kernel.pathManager = nil
        policy.kernel.scheduler = "bpf_rr"
        #expect(Planner.settingsChanges(policy: policy, current: Self.current) == [.scheduler(from: "default", to: "bpf_rr")])
        policy.kernel.pathManager = "userspace"
        policy.kernel.subflowsLimit = 8
        policy.kernel.addAddrAcceptedLimit = 8
        #expect(Planner.settingsChanges(policy: policy, current: Self.current) == [
            .pathManager(from: "kernel", to: "userspace"),
            .scheduler(from: "default", to: "bpf_rr"),
            .limits(from: Limits(subflows: 2, addAddrAccepted: 1), to: Limits(subflows: 8, addAddrAccepted: 8)),
        ])
    }

    @Test func partialLimitsMergeWithTheKernelsValues() {
        var policy = Policy()
        policy.kernel.subflowsLimit = 5
        #expect(Planner.settingsChanges(policy: policy, current: Self.current) == [
            .limits(from: Limits(subflows: 2, addAddrAccepted: 1), to: Limits(subflows: 5, addAddrAccepted: 1)),
        ])
        policy.kernel.subflowsLimit = nil
        policy.kernel.addAddrAcceptedLimit = 0
        #expect(Planner.settingsChanges(policy: policy, current: Self.current) == [
            .limits(from: Limits(subflows: 2, addAddrAccepted: 1), to: Limits(subflows: 2, addAddrAccepted: 0)),
        ])
        policy.kernel.addAddrAcceptedLimit = 1
        #expect(Planner.settingsChanges(policy: policy, current: Self.current).isEmpty, "the given limit equals the kernel's")
    }
}
