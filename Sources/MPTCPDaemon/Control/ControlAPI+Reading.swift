import FoundationEssentials
import Metrics
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy
#if canImport(Glibc)
import Glibc
#endif

// The read methods: open to every peer, changing nothing.
extension ControlAPI {
    func status() -> StatusRecord {
        let s = state.snapshot
        // The worker thread is inside the namespace (ControlServer): read directly.
        let sysctl = MPTCPSysctl(namespace: .current)
        return StatusRecord(
            version: mptcpctlVersion, apiVersion: controlAPIVersion, pid: Int(getpid()), namespace: namespace.name ?? "host",
            uptimeSeconds: (state.uptimeSeconds * 1000).rounded() / 1000,
            pathManager: try? sysctl.pathManager(), scheduler: try? sysctl.scheduler(),
            config: s.configPath, configLoadedAt: iso8601(s.loadedAt), reloads: s.reloads, ownedEndpoints: s.owned.count,
            connections: s.manager?.count, userspacePathManager: s.manager != nil,
            apiRequests: requests.load(ordering: .relaxed),
            routing: RoutingStatusRecord(owned: s.routing, notes: s.routingNotes, mode: s.policy.routing.mode),
            paths: s.health?.summary)
    }

    /// The judged paths as of the health thread's last step; `unavailable` when it does not run.
    func paths() throws(RPCError) -> [PathRecord] {
        guard let paths = state.snapshot.health?.paths else {
            throw .unavailable("path health is not running in this daemon (see its log)")
        }
        return paths
    }

    func connections() throws(RPCError) -> [ConnectionRecord] {
        let table: [Connection]
        let interfaces: InterfaceTable
        do {
            table = try ConnectionTable.read(namespace: .current)
            interfaces = try InterfaceTable.read(namespace: .current)
        } catch { throw .kernel("\(error)") }
        let policies = state.snapshot.manager?.policyNames() ?? [:]
        return table.map { ConnectionRecord($0, policy: policies[$0.token]) { interfaces.names[$0] } }
    }

    func endpoints() throws(RPCError) -> [EndpointRecord] {
        let list: [Endpoint]
        let interfaces: InterfaceTable
        do {
            list = try kernel.pathManager.endpoints()
            interfaces = try InterfaceTable.read(namespace: .current)
        } catch { throw .kernel("\(error)") }
        let owned = state.snapshot.owned
        return list.map { e in
            EndpointRecord(e, owned: owned.contains(OwnedEndpoint(id: e.id, address: e.address))) { interfaces.names[$0] }
        }
    }

    func interfaces() throws(RPCError) -> [InterfaceRecord] {
        let snapshot: NetworkSnapshot
        do { snapshot = try kernel.network.read() } catch { throw .kernel("\(error)") }
        let policy = state.snapshot.policy
        return snapshot.links.sorted { $0.index < $1.index }.map { link in
            let rule = policy.rule(for: link.name)
            return InterfaceRecord(
                name: link.name, index: link.index, up: link.flags & 1 != 0, operState: link.operState.description,
                role: rule?.role.rawValue, rule: rule?.position,
                addresses: snapshot.addresses.filter { $0.interfaceIndex == link.index }.map { "\($0.address)/\($0.prefixLength)" })
        }
    }

    func policyShow() throws(RPCError) -> PolicyShowRecord {
        let s = state.snapshot
        let policy: JSONValue
        do { policy = try policyJSON(s.policy) } catch {
            throw .internalError("cannot show the policy: \(error)")
        }
        return PolicyShowRecord(config: s.configPath, loadedAt: iso8601(s.loadedAt), policy: policy)
    }

    /// Every metric family this daemon exports (`mptcpctld(8)`, METRICS).
    static let metricFamilies = DaemonMetrics.families(methods: ControlMethods.all.map { $0.name })

    /// The metrics in the Prometheus text format (for node_exporter's textfile
    /// collector, or `[metrics] listen`); gauges are read at this moment. Every
    /// family has HELP and TYPE, every declared series exists from start-up (at
    /// 0), and the order is fixed (`PrometheusText.normalised`). One sock_diag
    /// reading serves the subflow gauges, the per-path series and the
    /// per-connection ones (`TrafficMetrics`).
    func metrics() -> Result<MetricsRecord, RPCError> {
        guard let registry else { return .failure(.unavailable("metrics are not collected by this daemon")) }
        let s = state.snapshot
        Metrics.Gauge(label: "mptcpctld_managed_connections").record(s.manager?.count ?? 0)
        Metrics.Gauge(label: "mptcpctld_owned_endpoints").record(s.owned.count)
        Metrics.Gauge(label: "mptcpctld_uptime_seconds").record(state.uptimeSeconds)
        Metrics.Gauge(label: "mptcpctld_policy_reloads").record(s.reloads)
        let table = readConnectionsForMetrics()
        if let table { recordSubflowGauges(table) }
        let namespace = self.namespace
        let scrape = traffic.scrape(table, kernel: readKernelCounters(), perConnection: s.policy.metrics.perConnection) {
            try? InterfaceTable.read(namespace: namespace).names
        }
        let text = registry.emitToString() + "\n" + scrape.lines.joined(separator: "\n") + "\n"
        return .success(MetricsRecord(text: PrometheusText.normalised(text, families: Self.metricFamilies + scrape.families)))
    }

    /// The namespace's connections, read in the daemon's namespace whichever
    /// thread asks (the control socket's worker, or the HTTP endpoint's); nil
    /// (logged) when sock_diag cannot be read.
    private func readConnectionsForMetrics() -> [Connection]? {
        do { return try ConnectionTable.read(namespace: namespace) } catch {
            logger.warning("cannot list connections for the subflow and path metrics", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// The namespace's `MPTcpExt` counters; nil (logged) when they cannot be read.
    private func readKernelCounters() -> MPTCPKernelCounters? {
        do { return try MPTCPKernelCounters.read(namespace: namespace) } catch {
            logger.warning("cannot read the kernel's MPTCP counters", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// The namespace's MPTCP subflows now, by the truth `connections` shows:
    /// those that carry traffic (established) and joins under way (syn-sent,
    /// syn-recv). Not recorded when sock_diag cannot be read (the last values stay).
    private func recordSubflowGauges(_ table: [Connection]) {
        let subflows = table.flatMap(\.subflows)
        Metrics.Gauge(label: "mptcpctld_active_subflows").record(subflows.filter(\.carriesTraffic).count)
        Metrics.Gauge(label: "mptcpctld_pending_subflows").record(subflows.filter(\.state.isHandshaking).count)
    }

    /// The kinds asked for (all by default); the connection's handler then starts
    /// the stream (`event` notifications, `events_missed` when its queue overflowed),
    /// beginning with the kept start-up events when `start_up` asks for them.
    func subscribe(_ p: SubscribeParams) -> SubscriptionRecord {
        SubscriptionRecord(kinds: p.kinds ?? DaemonEvent.Kind.allCases, queue: ControlServer.subscriberQueue, startUp: p.startUp)
    }

    /// What the daemon would change now under the policy it runs (`mptcpctld --plan`'s content).
    func policyPlan() throws(RPCError) -> PlanRecord {
        let s = state.snapshot
        let result: PlanResult
        do {
            result = try PlanResult(kernel: kernel, owned: s.owned, routing: s.routing, policy: s.policy,
                                    health: s.health?.view ?? .none)
        } catch { throw .kernel("\(error)") }
        // The plan's members are `mptcpctld --plan --json`'s document.
        let plan: JSONValue
        do { plan = try result.jsonValue() } catch {
            throw .internalError("cannot encode the plan: \(error)")
        }
        guard case .object(let members) = plan else { throw .internalError("cannot encode the plan") }
        return PlanRecord(plan: members, text: result.text, pending: result.pending)
    }
}

/// `seconds` since 1970 in ISO 8601 (`2026-01-02T03:04:05Z`).
func iso8601(_ seconds: Double) -> String {
    Date(timeIntervalSince1970: seconds).formatted(.iso8601)
}
