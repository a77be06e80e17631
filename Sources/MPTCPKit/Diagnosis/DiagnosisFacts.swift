/// Everything `doctor` reads about one namespace before judging it: the MPTCP
/// sysctls, the in-kernel path manager's endpoints and limits, interfaces,
/// addresses and routes, listeners, rp_filter values, the kernel's route
/// lookups for each used address, and the kernel's probed capabilities.
/// Gathered once (I/O); the verdicts are pure functions of it.
public struct DiagnosisFacts: Sendable {
    /// /proc/sys/net/mptcp exists.
    public var sysctls: Bool
    public var enabled: Result<String, MPTCPError>
    public var pathManager: Result<String, MPTCPError>
    public var availablePathManagers: [String]
    public var limits: Result<Limits, MPTCPError>
    public var endpoints: [Endpoint]
    public var network: NetworkSnapshot
    public var listeners: [Listener]
    /// `net.ipv4.conf.all.rp_filter`, and `net.ipv4.conf.IF.rp_filter` by interface name.
    public var reversePathFilterAll: Int?
    public var reversePathFilter: [String: Int]
    public var used: [UsedAddress]
    public var probes: [RouteProbe]
    /// nil when not probed (the kernel has no MPTCP).
    public var capabilities: Result<KernelCapabilities, MPTCPError>?
    /// Where the routes were looked up to (stand-ins chosen off this host's links).
    public var destinations: DiagnosisDestinations

    public init(sysctls: Bool, enabled: Result<String, MPTCPError>, pathManager: Result<String, MPTCPError>,
                availablePathManagers: [String], limits: Result<Limits, MPTCPError>, endpoints: [Endpoint],
                network: NetworkSnapshot, listeners: [Listener], reversePathFilterAll: Int?, reversePathFilter: [String: Int],
                used: [UsedAddress], probes: [RouteProbe], capabilities: Result<KernelCapabilities, MPTCPError>?,
                destinations: DiagnosisDestinations) {
        self.sysctls = sysctls
        self.enabled = enabled
        self.pathManager = pathManager
        self.availablePathManagers = availablePathManagers
        self.limits = limits
        self.endpoints = endpoints
        self.network = network
        self.listeners = listeners
        self.reversePathFilterAll = reversePathFilterAll
        self.reversePathFilter = reversePathFilter
        self.used = used
        self.probes = probes
        self.capabilities = capabilities
        self.destinations = destinations
    }

    /// Reads `namespace`. Only a namespace that cannot be entered, or whose
    /// interfaces cannot be listed, throws; any other read that fails becomes a fact.
    public static func gather(namespace: NetworkNamespace, plane: ControlPlaneFacts,
                              destinations: DiagnosisDestinations) throws(MPTCPError) -> DiagnosisFacts {
        let network = try NetworkReader(namespace: namespace).read()
        let destinations = destinations.avoiding(network)
        let (sysctls, enabled) = try namespace.perform { () throws(MPTCPError) -> (Bool, Result<String, MPTCPError>) in
            guard FileManagerless.exists(MPTCPSysctl.directory) else { return (false, .failure(.notFound("read net.mptcp.enabled", nil))) }
            return (true, Result { () throws(MPTCPError) -> String in try MPTCPSysctl.read("enabled") })
        }
        let sysctl = MPTCPSysctl(namespace: namespace)
        let pm = Result { () throws(MPTCPError) -> PathManager in try PathManager(namespace: namespace) }
        let limits = pm.flatMap { p in Result { () throws(MPTCPError) -> Limits in try p.limits() } }
        let endpoints = (try? pm.get().endpoints()) ?? []
        let used = UsedAddress.collect(endpoints: endpoints, network: network, managedInterfaces: plane.managedInterfaces)
        let filter = sysctl
        var perInterface: [String: Int] = [:]
        for index in Set(used.compactMap(\.interfaceIndex)) {
            if let name = network.link(index)?.name, let value = try? filter.reversePathFilter(interface: name) {
                perInterface[name] = value
            }
        }
        return DiagnosisFacts(
            sysctls: sysctls, enabled: enabled,
            pathManager: Result { () throws(MPTCPError) -> String in try sysctl.pathManager() },
            availablePathManagers: (try? sysctl.availablePathManagers()) ?? [], limits: limits, endpoints: endpoints,
            network: network, listeners: (try? ConnectionTable.listeners(namespace: namespace)) ?? [],
            reversePathFilterAll: try? filter.reversePathFilterAll(), reversePathFilter: perInterface, used: used,
            probes: routeProbes(used, destinations: destinations, namespace: namespace),
            capabilities: sysctls ? Result { () throws(MPTCPError) -> KernelCapabilities in try KernelCapabilities.probe() } : nil,
            destinations: destinations)
    }

    /// For each address with an interface: the bound lookup a subflow makes, and the
    /// unbound one the reverse-path filter makes (the same when the endpoint has no `dev`).
    static func routeProbes(_ used: [UsedAddress], destinations: DiagnosisDestinations,
                            namespace: NetworkNamespace) -> [RouteProbe] {
        let tables: Result<RoutingTables, MPTCPError> = Result { () throws(MPTCPError) -> RoutingTables in
            try RoutingTables(namespace: namespace)
        }
        var probes: [RouteProbe] = []
        for u in used where u.interfaceIndex != nil || u.boundInterface != nil {
            guard let destination = destinations.destination(from: u.address) else { continue }
            for binding in Set([u.boundInterface, nil]) {
                let query = RouteQuery(destination: destination, source: u.address, outputInterface: binding)
                let outcome = tables.flatMap { t in Result { () throws(MPTCPError) -> Route in try t.lookup(query) } }
                probes.append(RouteProbe(source: u.address, destination: destination, outputInterface: binding, outcome: outcome))
            }
        }
        return probes
    }
}
