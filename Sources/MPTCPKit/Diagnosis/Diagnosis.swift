/// `mptcpctl doctor`'s judgement of one namespace: every check, in the order
/// they are printed, from the facts gathered (and the peer connection's
/// outcome, with `--peer`). Pure: unit-tested with made-up facts.
public enum Diagnosis {
    public static func checks(_ facts: DiagnosisFacts, plane: ControlPlaneFacts, peer: PeerProbeResult? = nil,
                              fix: FixCommands) -> [DiagnosisCheck] {
        let destinations = facts.destinations
        let pathManager = try? facts.pathManager.get()
        let isServer = !facts.listeners.isEmpty
        var checks: [DiagnosisCheck] = [
            EnablementVerdict.check(sysctls: facts.sysctls, enabled: facts.enabled, fix: fix),
            PathManagerVerdict.daemon(plane),
            PathManagerVerdict.pathManager(selected: facts.pathManager, available: facts.availablePathManagers,
                                           plane: plane, fix: fix),
            LimitsVerdict.check(limits: facts.limits, endpoints: facts.endpoints, pathManager: pathManager, isServer: isServer,
                                plane: plane, fix: fix),
            CapabilityVerdict.check(facts.capabilities, usedFlags: facts.endpoints.reduce(EndpointFlags()) { $0.union($1.flags) },
                                    policyPathManager: plane.answers ? plane.policyPathManager : nil),
        ]
        if facts.endpoints.isEmpty && pathManager == "kernel" {
            checks.append(DiagnosisCheck(id: "endpoints", status: .warn, summary: "no endpoints",
                                         reason: "the in-kernel path manager opens no subflow and announces nothing: every connection stays on one path",
                                         fix: fix.mptcpctl("endpoint add ADDRESS --dev IFACE --subflow") + " (or run mptcpctld)"))
        }
        if destinations.areStandIns && !facts.used.isEmpty {
            checks.append(DiagnosisCheck(id: "destinations", status: .info,
                                         summary: "no --peer: routes checked towards \(destinations.standInIPv4) and "
                                             + "\(destinations.standInIPv6) (documentation addresses), standing in for a peer beyond the links"))
        }
        for e in facts.endpoints.sorted(by: { $0.id < $1.id }) {
            checks.append(EndpointFlagsVerdict.check(e, isServer: isServer, destinations: destinations,
                                                     interfaceName: e.interfaceIndex == 0 ? nil : facts.network.link(e.interfaceIndex)?.name,
                                                     fix: fix))
        }
        var routing: [IPAddress: [DiagnosisCheck]] = [:]
        for u in facts.used {
            checks.append(AddressStateVerdict.check(u, network: facts.network, peer: destinations.peer?.address, fix: fix))
            let route = RouteVerdict.check(u, probes: facts.probes, destinations: destinations, network: facts.network,
                                           plane: plane, fix: fix)
            let filter = ReversePathVerdict.check(u, probes: facts.probes, destinations: destinations,
                                                  all: facts.reversePathFilterAll, perInterface: facts.reversePathFilter,
                                                  network: facts.network, plane: plane, fix: fix)
            // An address nothing uses yet (no endpoint names it, no daemon manages its
            // interface: docker0, virbr0, a VPN's) opens no subflow today, so a wrong
            // route from it is a warning for when it will, not a failure of this host.
            let unused = u.endpoint == nil && plane.managedInterfaces.isEmpty
            routing[u.address] = [route, filter].compactMap { $0 }.map { unused ? $0.asWarningWhileUnused : $0 }
            checks += routing[u.address] ?? []
        }
        checks += PathHealthVerdict.checks(plane: plane, network: facts.network, fix: fix)
        if let peer {
            let sources = Set(expectedSources(facts, peer: peer.peer, interface: peer.interface))
            let expected = facts.used.filter { sources.contains($0.address) }
            checks += PeerVerdict.checks(peer, expected: expected, routing: routing, fix: fix)
        }
        return checks
    }

    /// The addresses that should open a subflow to `peer`: subflow endpoints (or, with
    /// the userspace path manager, every used address) of the peer's family; for a
    /// link-local peer on `interface`, only those whose subflows leave by that link.
    public static func expectedSources(_ facts: DiagnosisFacts, peer: AddressAndPort, interface: Int32? = nil) -> [IPAddress] {
        let userspace = (try? facts.pathManager.get()) == "userspace"
        return facts.used.filter { u in
            u.address.isIPv4 == peer.address.isIPv4 && (u.endpoint.map { $0.flags.contains(.subflow) } ?? userspace)
                && (interface == nil || u.ownInterface == interface)
        }.map(\.address)
    }
}
