@testable import MPTCPKit
import Testing

/// doctor's verdicts on the MPTCP sysctls, the path manager and daemon, limits,
/// endpoint flags, address state and capabilities: made-up facts, no kernel.
struct DiagnosisVerdictTests {
    let fix = FixCommands(namespace: "lab")
    let noDaemon = ControlPlaneFacts(reachability: .absent(socket: "/run/mptcpctl/mptcpctld.sock"))

    var daemon: ControlPlaneFacts {
        var plane = ControlPlaneFacts(reachability: .answers)
        plane.pathManager = "kernel"
        return plane
    }

    func network(flags: UInt32 = 0, operState: Link.OperState = .up) -> NetworkSnapshot {
        NetworkSnapshot(links: [Link(index: 2, name: "eth0", flags: 1, operState: .up),
                                Link(index: 3, name: "wlan0", flags: 1, operState: operState)],
                        addresses: [InterfaceAddress(address: IPAddress("10.0.1.1")!, prefixLength: 24, interfaceIndex: 2),
                                    InterfaceAddress(address: IPAddress("2001:db8:2::1")!, prefixLength: 64, interfaceIndex: 3, flags: flags),
                                    InterfaceAddress(address: IPAddress("10.0.2.1")!, prefixLength: 24, interfaceIndex: 3)],
                        defaultRoutes: [])
    }

    @Test func mptcpDisabledFailsWithTheSysctlThatTurnsItOnInTheNamespace() {
        let check = EnablementVerdict.check(sysctls: true, enabled: .success("0"), fix: fix)
        #expect(check.status == .fail)
        #expect(check.id == "mptcp.enabled")
        #expect(check.fix == "ip netns exec lab sysctl -w net.mptcp.enabled=1")
        #expect(EnablementVerdict.check(sysctls: true, enabled: .success("1"), fix: fix).status == .ok)
        #expect(EnablementVerdict.check(sysctls: false, enabled: .success("1"), fix: fix).status == .fail)
    }

    @Test func noDaemonIsInformationNotAFailure() {
        #expect(PathManagerVerdict.daemon(noDaemon).status == .info)
        #expect(PathManagerVerdict.daemon(daemon).status == .ok)
        #expect(PathManagerVerdict.daemon(ControlPlaneFacts(reachability: .unreachable(socket: "s", reason: "denied"))).status == .warn)
    }

    @Test func userspacePathManagerWithoutADaemonRunningItWarns() {
        let check = PathManagerVerdict.pathManager(selected: .success("userspace"), available: ["kernel", "userspace"],
                                                   plane: noDaemon, fix: fix)
        #expect(check.status == .warn)
        #expect(check.fix?.contains("mptcpctl -n lab path-manager set kernel") == true)
        var running = daemon
        running.userspacePathManager = true
        #expect(PathManagerVerdict.pathManager(selected: .success("userspace"), available: [], plane: running, fix: fix).status == .ok)
    }

    @Test func aPathManagerOtherThanThePolicySelectsFails() {
        var plane = daemon
        plane.policyPathManager = "userspace"
        let check = PathManagerVerdict.pathManager(selected: .success("kernel"), available: [], plane: plane, fix: fix)
        #expect(check.status == .fail)
        #expect(check.fix?.hasPrefix("mptcpctl -n lab path-manager set userspace") == true)
    }

    @Test func aZeroSubflowLimitWithSubflowEndpointsFails() {
        let endpoints = [Endpoint(id: 1, address: IPAddress("10.0.2.1")!, flags: .subflow),
                         Endpoint(id: 2, address: IPAddress("10.0.3.1")!, flags: .subflow)]
        let none = LimitsVerdict.check(limits: .success(Limits(subflows: 0, addAddrAccepted: 0)), endpoints: endpoints,
                                       pathManager: "kernel", plane: noDaemon, fix: fix)
        #expect(none.status == .fail)
        #expect(none.fix == "mptcpctl -n lab limits set --subflows 2")
        let one = LimitsVerdict.check(limits: .success(Limits(subflows: 1, addAddrAccepted: 1)), endpoints: endpoints,
                                      pathManager: "kernel", plane: noDaemon, fix: fix)
        #expect(one.status == .warn)
        let enough = LimitsVerdict.check(limits: .success(Limits(subflows: 2, addAddrAccepted: 2)), endpoints: endpoints,
                                         pathManager: "kernel", plane: noDaemon, fix: fix)
        #expect(enough.status == .ok)
    }

    @Test func limitsDifferingFromTheDaemonsPolicyWarnAndTheUserspacePathManagerIgnoresThem() {
        var plane = daemon
        plane.policySubflowsLimit = 4
        let check = LimitsVerdict.check(limits: .success(Limits(subflows: 2, addAddrAccepted: 2)), endpoints: [],
                                        pathManager: "kernel", plane: plane, fix: fix)
        #expect(check.status == .warn)
        #expect(check.fix == "mptcpctl -n lab limits set --subflows 4")
        #expect(LimitsVerdict.check(limits: .success(Limits(subflows: 0, addAddrAccepted: 0)), endpoints: [],
                                    pathManager: "userspace", plane: plane, fix: fix).status == .info)
    }

    func limits(_ subflows: UInt32, accepted: UInt32, _ flags: [EndpointFlags], server: Bool) -> DiagnosisCheck {
        let endpoints = flags.enumerated().map { i, f in Endpoint(id: UInt8(i + 1), address: IPAddress("10.0.\(i + 2).1")!, flags: f) }
        return LimitsVerdict.check(limits: .success(Limits(subflows: subflows, addAddrAccepted: accepted)), endpoints: endpoints,
                                   pathManager: "kernel", isServer: server, plane: noDaemon, fix: fix)
    }

    @Test func aServerWithSignalEndpointsAndASubflowsLimitOfZeroFailsBecauseTheKernelRejectsEveryJoin() {
        let check = limits(0, accepted: 0, [.signal, .signal], server: true)
        #expect(check.status == .fail)
        #expect(check.reason?.contains("rejects every join") == true)
        #expect(check.fix == "mptcpctl -n lab limits set --subflows 2")
    }

    @Test func aServerWithSignalEndpointsNeedsNoAddAddrAcceptedOfItsOwn() {
        let check = limits(2, accepted: 0, [.signal, .signal], server: true)
        #expect(check.status == .ok, "announcing needs no local add_addr_accepted: \(check)")
        #expect(check.summary.contains("add_addr_accepted and subflows above 0 on the client"))
    }

    @Test func aServerAcceptingFewerJoinsThanItAnnouncesWarns() {
        #expect(limits(1, accepted: 0, [.signal, .signal], server: true).status == .warn)
    }

    @Test func aServerWithoutEndpointsAndASubflowsLimitOfZeroWarnsThatJoinsAreRejected() {
        let check = limits(0, accepted: 0, [], server: true)
        #expect(check.status == .warn)
        #expect(check.fix == "mptcpctl -n lab limits set --subflows 2")
        #expect(limits(2, accepted: 0, [], server: true).status == .ok)
    }

    @Test func aClientAcceptingAnnouncementsWithASubflowsLimitOfZeroWarns() {
        let check = limits(0, accepted: 2, [], server: false)
        #expect(check.status == .warn)
        #expect(check.fix == "mptcpctl -n lab limits set --subflows 2")
        #expect(limits(2, accepted: 2, [], server: false).status == .ok)
        #expect(limits(0, accepted: 0, [], server: false).status == .ok, "a client that wants no subflow at all is not wrong")
    }

    @Test func aClientsSignalEndpointIsNotGatedByItsLimits() {
        // The flags check warns that servers do not open subflows to a client; the limits say nothing more.
        #expect(limits(0, accepted: 0, [.signal], server: false).status == .ok)
        #expect(limits(2, accepted: 0, [.signal], server: false).status == .info)
    }

    @Test func subflowEndpointsNeedTheSubflowsLimitOnEitherSide() {
        #expect(limits(0, accepted: 0, [.subflow], server: true).status == .fail)
        #expect(limits(0, accepted: 0, [.subflow], server: false).status == .fail)
        #expect(limits(1, accepted: 0, [.subflow, [.subflow, .signal]], server: true).status == .warn)
        #expect(limits(2, accepted: 2, [.subflow, [.subflow, .signal]], server: true).status == .ok)
    }

    @Test func aLinkLocalEndpointThatOpensSubflowsFailsWithAGlobalAddressAsTheFix() {
        let snapshot = NetworkSnapshot(
            links: [Link(index: 3, name: "wlan0", flags: 1, operState: .up)],
            addresses: [InterfaceAddress(address: IPAddress("fe80::1")!, prefixLength: 64, interfaceIndex: 3),
                        InterfaceAddress(address: IPAddress("2001:db8:2::1")!, prefixLength: 64, interfaceIndex: 3)],
            defaultRoutes: [])
        let subflow = Endpoint(id: 4, address: IPAddress("fe80::1")!, flags: [.subflow, .backup], interfaceIndex: 3)
        let used = UsedAddress.collect(endpoints: [subflow], network: snapshot, managedInterfaces: [])
        let check = AddressStateVerdict.check(used[0], network: snapshot, fix: fix)
        #expect(check.status == .fail)
        #expect(check.reason?.contains("reaches only its own link") == true)
        #expect(check.fix == "mptcpctl -n lab endpoint delete 4 && mptcpctl -n lab endpoint add 2001:db8:2::1 dev wlan0 --subflow --backup")
        let signal = Endpoint(id: 5, address: IPAddress("fe80::1")!, flags: .signal, interfaceIndex: 3)
        let announced = UsedAddress.collect(endpoints: [signal], network: snapshot, managedInterfaces: [])
        #expect(AddressStateVerdict.check(announced[0], network: snapshot, fix: fix).status == .warn)
        #expect(AddressStateVerdict.check(used[0], network: snapshot, peer: IPAddress("fe80::2")!, fix: fix).status == .ok,
                "a link-local peer is reached from a link-local address")
    }

    @Test func signalOnAHostWithoutAListenerWarnsAndSignalWithFullmeshFails() {
        let signal = Endpoint(id: 3, address: IPAddress("10.0.2.1")!, flags: .signal, interfaceIndex: 3)
        let client = EndpointFlagsVerdict.check(signal, isServer: false, destinations: DiagnosisDestinations(peer: nil),
                                                interfaceName: "wlan0", fix: fix)
        #expect(client.status == .warn)
        #expect(client.fix == "mptcpctl -n lab endpoint delete 3 && mptcpctl -n lab endpoint add 10.0.2.1 dev wlan0 --subflow")
        #expect(EndpointFlagsVerdict.check(signal, isServer: true, destinations: DiagnosisDestinations(peer: nil),
                                           interfaceName: "wlan0", fix: fix).status == .ok)
        let both = Endpoint(id: 4, address: IPAddress("10.0.2.1")!, flags: [.signal, .fullmesh])
        #expect(EndpointFlagsVerdict.check(both, isServer: true, destinations: DiagnosisDestinations(peer: nil),
                                           interfaceName: nil, fix: fix).status == .fail)
    }

    @Test func aSubflowEndpointOfThePeersOtherFamilyIsInformation() {
        let v6 = Endpoint(id: 5, address: IPAddress("2001:db8:2::1")!, flags: .subflow)
        let peer = DiagnosisDestinations(peer: AddressAndPort(address: IPAddress("192.0.2.7")!, port: 80))
        let check = EndpointFlagsVerdict.check(v6, isServer: false, destinations: peer, interfaceName: nil, fix: fix)
        #expect(check.status == .info)
        #expect(check.reason?.contains("only to IPv6 addresses the peer announces") == true)
    }

    @Test func tentativeAndDeprecatedAddressesWarnAndAFailedDuplicateCheckFails() {
        let used = UsedAddress(address: IPAddress("2001:db8:2::1")!, interfaceIndex: 3)
        #expect(AddressStateVerdict.check(used, network: network(), fix: fix).status == .ok)
        #expect(AddressStateVerdict.check(used, network: network(flags: 0x40), fix: fix).status == .warn)
        #expect(AddressStateVerdict.check(used, network: network(flags: 0x20), fix: fix).status == .warn)
        let dad = AddressStateVerdict.check(used, network: network(flags: 0x08 | 0x40), fix: fix)
        #expect(dad.status == .fail)
        #expect(dad.fix?.hasPrefix("ip -6 -n lab addr del 2001:db8:2::1/64 dev wlan0") == true)
        #expect(AddressStateVerdict.check(used, network: network(operState: .down), fix: fix).status == .fail)
    }

    @Test func anEndpointAddressOnNoInterfaceFails() {
        let endpoint = Endpoint(id: 7, address: IPAddress("10.9.9.9")!, flags: .subflow)
        let used = UsedAddress.collect(endpoints: [endpoint], network: network(), managedInterfaces: [])
        #expect(used.map(\.address) == [IPAddress("10.9.9.9")!])
        let check = AddressStateVerdict.check(used[0], network: network(), fix: fix)
        #expect(check.status == .fail)
        #expect(check.fix == "mptcpctl -n lab endpoint delete 7")
    }

    @Test func withoutEndpointsOrADaemonEveryGlobalAddressOfAnUpInterfaceIsExamined() {
        let used = UsedAddress.collect(endpoints: [], network: network(), managedInterfaces: [])
        #expect(Set(used.map(\.address)) == Set(["10.0.1.1", "2001:db8:2::1", "10.0.2.1"].compactMap(IPAddress.init)))
        let managed = UsedAddress.collect(endpoints: [], network: network(), managedInterfaces: ["wlan0"])
        #expect(Set(managed.map(\.address)) == Set(["2001:db8:2::1", "10.0.2.1"].compactMap(IPAddress.init)))
    }

    @Test func capabilitiesFailWhenTheEndpointsOrThePolicyNeedWhatTheKernelDrops() {
        let c = KernelCapabilities(sockets: true, pathManagerFamily: true, endpointFlags: [.signal, .subflow, .backup, .fullmesh],
                                   missingFlags: .laminar, pathManagers: ["kernel", "userspace"], schedulers: ["default"])
        #expect(CapabilityVerdict.check(.success(c), usedFlags: .subflow, policyPathManager: nil).status == .ok)
        #expect(CapabilityVerdict.check(.success(c), usedFlags: [.subflow, .laminar], policyPathManager: nil).status == .fail)
        #expect(CapabilityVerdict.check(.success(c), usedFlags: [], policyPathManager: "bpf").status == .fail)
        #expect(CapabilityVerdict.check(.failure(.system("unshare", errno: 1)), usedFlags: [], policyPathManager: nil).status == .info)
    }

    @Test func theWorstStatusDecides() {
        #expect([DiagnosisCheck.ok("a", ""), DiagnosisCheck(id: "b", status: .warn, summary: "")].worst == .warn)
        #expect([DiagnosisCheck]().worst == .ok)
    }
}
