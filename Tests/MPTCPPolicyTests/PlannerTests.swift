import MPTCPKit
import MPTCPPolicy
import PropertyBased
import Testing

/// A small world: links by name, addresses on them, and a policy.
struct World {
    var links: [Link] = []
    var addresses: [InterfaceAddress] = []
    var routes: Set<DefaultRoute> = []

    mutating func link(_ name: String, up: Bool = true, oper: Link.OperState = .up) -> Int32 {
        let index = Int32(links.count + 2)
        links.append(Link(index: index, name: name, flags: up ? 1 : 0, operState: oper))
        return index
    }

    mutating func add(_ address: String, on index: Int32, flags: UInt32 = 0) {
        addresses.append(InterfaceAddress(address: IPAddress(address)!, prefixLength: 24, interfaceIndex: index, flags: flags))
    }

    var snapshot: NetworkSnapshot { NetworkSnapshot(links: links, addresses: addresses, defaultRoutes: routes) }
}

func rule(_ names: [String], _ role: Role, position: Int, announce: Bool = false, fullmesh: Bool = false,
          families: Set<AddressFamily> = [.ipv4, .ipv6], skipLinkLocal: Bool = true, requireDefaultRoute: Bool = false) -> InterfaceRule {
    InterfaceRule(names: names.map { try! Glob($0) }, role: role, announce: announce, fullmesh: fullmesh, families: families,
                  skipLinkLocal: skipLinkLocal, requireDefaultRoute: requireDefaultRoute, position: position)
}

/// Applies a plan to a simulated kernel (as the daemon would), returning the new endpoints and ownership.
func apply(_ plan: EndpointPlan, to endpoints: [Endpoint], owned: Set<OwnedEndpoint>) -> ([Endpoint], Set<OwnedEndpoint>) {
    var endpoints = endpoints, owned = owned.subtracting(plan.staleOwnership)
    for change in plan.changes {
        switch change {
        case .delete(let e, _):
            endpoints.removeAll { $0.id == e.id }
            owned.remove(OwnedEndpoint(id: e.id, address: e.address))
        case .setFlags(let e, let flags, _):
            if let i = endpoints.firstIndex(where: { $0.id == e.id }) { endpoints[i].flags = flags }
        case .add(let e, _):
            endpoints.append(e)
            owned.insert(OwnedEndpoint(id: e.id, address: e.address))
        }
    }
    return (endpoints, owned)
}

@Suite struct PlannerTests {
    let policy = Policy(interfaces: [
        rule(["lo", "docker*"], .off, position: 1),
        rule(["eth*"], .active, position: 2),
        rule(["wwan*"], .backup, position: 3),
    ])

    func plan(_ w: World, _ policy: Policy? = nil, endpoints: [Endpoint] = [], owned: Set<OwnedEndpoint> = []) -> EndpointPlan {
        Planner.plan(policy: policy ?? self.policy, network: w.snapshot, endpoints: endpoints, owned: owned)
    }

    func adds(_ p: EndpointPlan) -> [Endpoint] { p.changes.compactMap { if case .add(let e, _) = $0 { return e } else { return nil } } }

    @Test func rolesGiveSubflowBackupOrNothing() {
        var w = World()
        let eth = w.link("eth0"), wwan = w.link("wwan0"), docker = w.link("docker0"), other = w.link("tun0")
        w.add("10.0.0.1", on: eth); w.add("10.1.0.1", on: wwan); w.add("172.17.0.1", on: docker); w.add("10.9.0.1", on: other)
        let p = plan(w)
        #expect(adds(p).map(\.address.description) == ["10.0.0.1", "10.1.0.1"])
        #expect(adds(p).map(\.flags) == [[.subflow], [.subflow, .backup]])
        #expect(adds(p).map(\.interfaceIndex) == [eth, wwan], "endpoints are bound to their interface")
        #expect(p.skipped.first { $0.address == IPAddress("172.17.0.1") }?.reason.contains("is off") == true)
        #expect(p.skipped.first { $0.address == IPAddress("10.9.0.1") }?.reason.contains("matches no [[interface]] block") == true)
    }

    @Test func announceAndFullmeshFlags() {
        var w = World()
        let a = w.link("eth0"), b = w.link("eth1")
        w.add("10.0.0.1", on: a); w.add("10.0.1.1", on: b)
        let p = plan(w, Policy(interfaces: [rule(["eth0"], .active, position: 1, announce: true), rule(["eth1"], .backup, position: 2, fullmesh: true)]))
        #expect(adds(p).map(\.flags) == [[.subflow, .signal], [.subflow, .backup, .fullmesh]])
    }

    @Test func firstMatchingBlockWins() {
        var w = World()
        w.add("10.0.0.1", on: w.link("eth0"))
        let p = plan(w, Policy(interfaces: [rule(["eth0"], .off, position: 1), rule(["eth*"], .active, position: 2)]))
        #expect(p.changes.isEmpty)
    }

    @Test func downLinksAreUnusedButUnknownStateIsUsable() {
        var w = World()
        w.add("10.0.0.1", on: w.link("eth0", up: false))
        w.add("10.0.1.1", on: w.link("eth1", oper: .down))
        w.add("10.0.2.1", on: w.link("eth2", oper: .lowerLayerDown))
        w.add("10.0.3.1", on: w.link("eth3", oper: .unknown))
        let p = plan(w)
        #expect(adds(p).map(\.address.description) == ["10.0.3.1"])
        #expect(p.skipped.first { $0.address == IPAddress("10.0.0.1") }?.reason == "eth0 is down (administratively)")
        #expect(p.skipped.first { $0.address == IPAddress("10.0.2.1") }?.reason == "eth2 is down (state lowerlayerdown)")
    }

    @Test func unusableAddressesAreSkipped() {
        var w = World()
        let eth = w.link("eth0")
        w.add("2001:db8::1", on: eth, flags: 0x40)   // tentative
        w.add("2001:db8::2", on: eth, flags: 0x20)   // deprecated
        w.add("2001:db8::3", on: eth, flags: 0x08)   // dadfailed
        w.add("fe80::1", on: eth)
        w.add("169.254.1.1", on: eth)
        w.add("127.0.0.1", on: eth)
        w.add("::1", on: eth)
        w.add("2001:db8::4", on: eth, flags: 0x80)   // permanent: fine
        #expect(adds(plan(w)).map(\.address.description) == ["2001:db8::4"])
        let keepLinkLocal = Policy(interfaces: [rule(["eth*"], .active, position: 1, skipLinkLocal: false)])
        #expect(Set(adds(plan(w, keepLinkLocal)).map(\.address.description)) == ["2001:db8::4", "fe80::1", "169.254.1.1"])
    }

    @Test func familiesFilter() {
        var w = World()
        let eth = w.link("eth0")
        w.add("10.0.0.1", on: eth); w.add("2001:db8::1", on: eth)
        let v6 = Policy(interfaces: [rule(["eth0"], .active, position: 1, families: [.ipv6])])
        #expect(adds(plan(w, v6)).map(\.address.description) == ["2001:db8::1"])
    }

    @Test func requireDefaultRouteNeedsOneOfTheSameFamilyThroughTheInterface() {
        var w = World()
        let eth = w.link("eth0"), wwan = w.link("eth1")
        w.add("10.0.0.1", on: eth); w.add("2001:db8::1", on: eth); w.add("10.1.0.1", on: wwan)
        w.routes = [DefaultRoute(family: 2, interfaceIndex: eth)]
        let p = plan(w, Policy(interfaces: [rule(["eth*"], .active, position: 1, requireDefaultRoute: true)]))
        #expect(adds(p).map(\.address.description) == ["10.0.0.1"])
        #expect(p.skipped.first { $0.address == IPAddress("2001:db8::1") }?.reason.contains("no ipv6 default route") == true)
    }

    @Test func theCapKeepsActiveFirstThenBlockOrderNameFamilyAddress() {
        var w = World()
        let wwan = w.link("wwan0"), eth1 = w.link("eth1"), eth0 = w.link("eth0")
        for i in 1...3 { w.add("10.2.0.\(i)", on: wwan) }
        for i in 1...3 { w.add("10.1.0.\(i)", on: eth1) }
        w.add("2001:db8::1", on: eth0)
        for i in 1...3 { w.add("10.0.0.\(i)", on: eth0) }
        let p = plan(w)
        #expect(adds(p).count == 8)
        #expect(adds(p).map(\.address.description) == [
            "10.0.0.1", "10.0.0.2", "10.0.0.3", "2001:db8::1", "10.1.0.1", "10.1.0.2", "10.1.0.3", "10.2.0.1",
        ])
        let warning = p.warnings.joined()
        #expect(warning.contains("at most 8 endpoints") && warning.contains("10.2.0.2 (wwan0, backup)") && warning.contains("10.2.0.3"))
        #expect(p.skipped.first { $0.address == IPAddress("10.2.0.3") }?.reason == "left out by the 8-endpoint cap")
    }

    @Test func foreignEndpointsCountAgainstTheCapAndAreNeverTouched() {
        var w = World()
        let eth = w.link("eth0")
        for i in 1...8 { w.add("10.0.0.\(i)", on: eth) }
        let foreign = [Endpoint(id: 40, address: IPAddress("10.0.0.1")!, flags: .signal),
                       Endpoint(id: 41, address: IPAddress("192.0.2.1")!, flags: .subflow)]
        let p = plan(w, endpoints: foreign)
        #expect(p.foreign == foreign)
        #expect(!p.changes.contains { $0.endpoint.id == 40 || $0.endpoint.id == 41 })
        #expect(adds(p).count == 6, "8 minus 2 foreign")
        #expect(!adds(p).contains { $0.address == IPAddress("10.0.0.1") }, "held by a foreign endpoint")
        #expect(p.warnings.contains { $0.contains("10.0.0.1") && $0.contains("foreign endpoint (id 40)") })
    }

    @Test func vanishedAddressDeletesItsOwnedEndpoint() {
        let e = Endpoint(id: 3, address: IPAddress("10.0.0.9")!, flags: .subflow, interfaceIndex: 2)
        var w = World()
        _ = w.link("eth0")
        let p = plan(w, endpoints: [e], owned: [OwnedEndpoint(id: 3, address: e.address)])
        #expect(p.changes == [.delete(e, reason: "the address is no longer on any interface")])
    }

    @Test func roleChangeFlipsFlagsInPlace() {
        var w = World()
        let eth = w.link("eth0")
        w.add("10.0.0.1", on: eth)
        let e = Endpoint(id: 7, address: IPAddress("10.0.0.1")!, flags: .subflow, interfaceIndex: eth)
        let backup = Policy(interfaces: [rule(["eth0"], .backup, position: 1, fullmesh: true)])
        let p = plan(w, backup, endpoints: [e], owned: [OwnedEndpoint(id: 7, address: e.address)])
        #expect(p.changes.count == 1)
        guard case .setFlags(let target, let flags, _) = p.changes.first else { Issue.record("expected a set"); return }
        #expect(target.id == 7 && flags == [.subflow, .backup, .fullmesh])
    }

    @Test func announceOrInterfaceChangeReplacesTheEndpoint() {
        var w = World()
        let eth0 = w.link("eth0"), eth1 = w.link("eth1")
        w.add("10.0.0.1", on: eth0)
        let owned: Set<OwnedEndpoint> = [OwnedEndpoint(id: 1, address: IPAddress("10.0.0.1")!)]
        let e = Endpoint(id: 1, address: IPAddress("10.0.0.1")!, flags: .subflow, interfaceIndex: eth0)
        let announced = Policy(interfaces: [rule(["eth*"], .active, position: 1, announce: true)])
        let p = plan(w, announced, endpoints: [e], owned: owned)
        #expect(p.changes.count == 2)
        guard case .delete(let gone, _) = p.changes[0], case .add(let new, _) = p.changes[1] else { Issue.record("\(p.changes)"); return }
        #expect(gone.id == 1 && new.id == 2 && new.flags == [.subflow, .signal])

        let moved = Endpoint(id: 1, address: IPAddress("10.0.0.1")!, flags: .subflow, interfaceIndex: eth1)
        let q = plan(w, endpoints: [moved], owned: owned)
        #expect(q.changes.count == 2 && q.changes.last.map { if case .add(let a, _) = $0 { a.interfaceIndex == eth0 } else { false } } == true)
    }

    @Test func newEndpointsTakeTheLowestIDsNoEndpointUses() {
        var w = World()
        let eth = w.link("eth0")
        w.add("10.0.0.1", on: eth); w.add("10.0.0.2", on: eth)
        let foreign = [Endpoint(id: 1, address: IPAddress("192.0.2.1")!, flags: .signal), Endpoint(id: 3, address: IPAddress("192.0.2.3")!, flags: .signal)]
        #expect(adds(plan(w, endpoints: foreign)).map(\.id) == [2, 4])
    }

    @Test func changesAreOrderedDeletesSetsAdds() {
        var w = World()
        let eth = w.link("eth0")
        w.add("10.0.0.1", on: eth); w.add("10.0.0.2", on: eth)
        let kept = Endpoint(id: 1, address: IPAddress("10.0.0.1")!, flags: [.subflow, .backup], interfaceIndex: eth)
        let stale = Endpoint(id: 2, address: IPAddress("10.0.0.9")!, flags: .subflow, interfaceIndex: eth)
        let p = plan(w, endpoints: [kept, stale], owned: [OwnedEndpoint(id: 1, address: kept.address), OwnedEndpoint(id: 2, address: stale.address)])
        let kinds = p.changes.map { c -> String in
            switch c { case .delete: "delete"; case .setFlags: "set"; case .add: "add" }
        }
        #expect(kinds == ["delete", "set", "add"])
    }

    @Test func staleOwnershipListsRecordsTheKernelNoLongerHas() {
        var w = World()
        _ = w.link("eth0")
        let p = plan(w, owned: [OwnedEndpoint(id: 5, address: IPAddress("10.0.0.5")!)])
        #expect(p.staleOwnership == [OwnedEndpoint(id: 5, address: IPAddress("10.0.0.5")!)])
        #expect(p.changes.isEmpty)
    }

    @Test func planningAgainstTheResultIsEmptyAndTheCapHolds() async {
        // Random worlds: up to 6 interfaces of random kinds and states, up to 14 addresses, a few foreign endpoints.
        let names = ["eth0", "eth1", "wwan0", "docker0", "wlan0", "tun0"]
        await propertyCheck(count: 300, input: Gen.uint8(in: 0...255).array(of: 6), Gen.uint8(in: 0...255).array(of: 0...14),
                            Gen.uint8(in: 0...3)) { linkBits, addressBits, foreignCount in
            var w = World()
            var indexes: [Int32] = []
            for (i, bits) in linkBits.enumerated() {
                indexes.append(w.link(names[i], up: bits & 1 == 0, oper: bits & 2 == 0 ? .up : .down))
            }
            for (i, bits) in addressBits.enumerated() {
                let on = indexes[Int(bits) % indexes.count]
                w.add(bits & 0x80 == 0 ? "10.\(bits % 7).0.\(i + 1)" : "2001:db8:\(bits % 7)::\(i + 1)", on: on, flags: bits & 0x40 == 0 ? 0 : 0x40)
            }
            let foreign = (0..<Int(foreignCount)).map { Endpoint(id: UInt8(200 + $0), address: IPAddress("192.0.2.\($0 + 1)")!, flags: .signal) }
            let policy = Policy(interfaces: [
                rule(["docker*", "tun*"], .off, position: 1), rule(["eth*", "wl*"], .active, position: 2), rule(["wwan*"], .backup, position: 3),
            ])
            // Start from some owned leftovers that must go.
            let leftover = Endpoint(id: 9, address: IPAddress("10.99.0.1")!, flags: .subflow, interfaceIndex: 2)
            var endpoints = foreign + [leftover]
            var owned: Set<OwnedEndpoint> = [OwnedEndpoint(id: 9, address: leftover.address)]
            let first = Planner.plan(policy: policy, network: w.snapshot, endpoints: endpoints, owned: owned)
            (endpoints, owned) = apply(first, to: endpoints, owned: owned)
            #expect(endpoints.count <= Planner.endpointCap)
            #expect(foreign.allSatisfy { endpoints.contains($0) }, "foreign endpoints are untouched")
            #expect(Set(endpoints.map(\.id)).count == endpoints.count, "ids are unique")
            let second = Planner.plan(policy: policy, network: w.snapshot, endpoints: endpoints, owned: owned)
            #expect(second.changes.isEmpty, "converged: \(second.changes)")
        }
    }

    @Test func settingsChangeOnlyWhatDiffers() {
        let current = KernelSettingsSnapshot(pathManager: "kernel", scheduler: "default", limits: Limits(subflows: 2, addAddrAccepted: 0))
        #expect(Planner.settingsChanges(policy: Policy(), current: current).isEmpty, "keep changes nothing")
        var p = Policy()
        p.kernel.pathManager = "kernel"
        p.kernel.scheduler = "default"
        p.kernel.addAddrAcceptedLimit = 4
        #expect(Planner.settingsChanges(policy: p, current: current) == [
            .limits(from: Limits(subflows: 2, addAddrAccepted: 0), to: Limits(subflows: 2, addAddrAccepted: 4)),
        ])
        p.kernel.pathManager = "userspace"
        #expect(Planner.settingsChanges(policy: p, current: current).first == .pathManager(from: "kernel", to: "userspace"))
    }
}

