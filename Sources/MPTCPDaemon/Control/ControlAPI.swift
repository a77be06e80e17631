import NIOConcurrencyHelpers
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Metrics
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy
import Prometheus
import Synchronization

/// The control API's methods. Requests run one at a time on the server's
/// worker thread, which serialises the use of `kernel` (a handle of the API's
/// own) and has entered the daemon's namespace (so `.current` reads there), or,
/// for the cheap methods (`onLoop`), on the event loop's thread (also inside);
/// read methods are open to every peer, mutating ones need root or membership
/// of `[daemon] admin_group`.
final class ControlAPI: Sendable {
    struct Method: Sendable {
        var mutates: Bool
        var params: Set<String>
        /// Cheap and non-blocking (no netlink dump, no file but a sysctl): run on
        /// the event loop itself, without a hop to the worker thread.
        var onLoop = false
        var run: @Sendable (ControlAPI, RPCParams) throws(RPCError) -> JSONValue
    }

    let state: DaemonState
    let kernel: KernelHandle
    let namespace: NetworkNamespace
    /// Rings the service's loop: re-read interfaces and reconcile now.
    let notifyNetwork: @Sendable () -> Void
    /// Rings the service's loop: reload the policy file.
    let reload: @Sendable () -> Void
    /// `[daemon] admin_group`, resolved at start-up.
    let adminGroup: UInt32?
    /// `mptcpctld_api_requests_total` by method and result, made once each.
    private let requestCounters = NIOLockedValueBox<[String: Metrics.Counter]>([:])
    /// The metrics registry `metrics` renders (nil: no metrics system).
    let registry: PrometheusCollectorRegistry?
    /// Requests handled in all, counted as they start.
    let requests = Synchronization.Atomic<Int>(0)
    let logger: Logger

    /// Events for `subscribe`.
    let hub: EventHub

    init(state: DaemonState, kernel: KernelHandle, namespace: NetworkNamespace, adminGroup: UInt32?, logger: Logger,
         registry: PrometheusCollectorRegistry? = nil, hub: EventHub,
         notifyNetwork: @escaping @Sendable () -> Void, reload: @escaping @Sendable () -> Void) {
        self.logger = logger
        self.hub = hub
        self.registry = registry
        self.state = state
        self.kernel = kernel
        self.namespace = namespace
        self.adminGroup = adminGroup
        self.notifyNetwork = notifyNetwork
        self.reload = reload
    }

    static let methods: [String: Method] = [
        "status": Method(mutates: false, params: [], onLoop: true) { api, _ in api.status() },
        "connections": Method(mutates: false, params: []) { api, _ throws(RPCError) in try api.connections() },
        "endpoints": Method(mutates: false, params: []) { api, _ throws(RPCError) in try api.endpoints() },
        "interfaces": Method(mutates: false, params: []) { api, _ throws(RPCError) in try api.interfaces() },
        "policy.show": Method(mutates: false, params: []) { api, _ throws(RPCError) in try api.policyShow() },
        "subscribe": Method(mutates: false, params: ["kinds"], onLoop: true) { api, p throws(RPCError) in try api.subscribe(p) },
        "metrics": Method(mutates: false, params: []) { api, _ throws(RPCError) in try api.metrics().get() },
        "policy.plan": Method(mutates: false, params: []) { api, _ throws(RPCError) in try api.policyPlan() },
        "policy.reload": Method(mutates: true, params: []) { api, _ throws(RPCError) in try api.policyReload() },
        "subflow.create": Method(mutates: true, params: ["token", "local", "local_id", "interface", "remote", "remote_port", "backup"]) {
            api, p throws(RPCError) in try api.subflowCreate(p)
        },
        "subflow.destroy": Method(mutates: true, params: ["token", "local", "local_port", "remote", "remote_port"]) {
            api, p throws(RPCError) in try api.subflowDestroy(p)
        },
        "subflow.set_backup": Method(mutates: true, params: ["token", "local", "local_port", "remote", "remote_port", "backup"]) {
            api, p throws(RPCError) in try api.subflowSetBackup(p)
        },
        "announce": Method(mutates: true, params: ["token", "address", "id", "port", "interface"]) { api, p throws(RPCError) in
            try api.announce(p)
        },
        "remove": Method(mutates: true, params: ["token", "id"]) { api, p throws(RPCError) in try api.remove(p) },
        "interface.notify": Method(mutates: true, params: ["interface", "action"]) { api, p throws(RPCError) in
            try api.interfaceNotify(p)
        },
    ]

    /// Runs one request for `peer`; every failure is an `RPCError`, never a crash.
    func handle(_ request: RPCRequest, from peer: ControlPeer) -> Result<JSONValue, RPCError> {
        requests.add(1, ordering: .relaxed)
        let outcome: Result<JSONValue, RPCError>
        if let method = Self.methods[request.method] {
            if method.mutates && !isAdmin(peer) {
                outcome = .failure(.permissionDenied("\(request.method) changes the daemon's state: it needs root"
                    + (adminGroup == nil ? "" : " or membership of daemon.admin_group") + " (you are uid \(peer.uid))"))
            } else {
                do {
                    let params = try RPCParams(request.params, allowed: method.params)
                    outcome = .success(try method.run(self, params))
                } catch {
                    outcome = .failure(error)
                }
            }
        } else {
            outcome = .failure(.unknownMethod(request.method))
        }
        let result: String
        switch outcome {
        case .success: result = "ok"
        case .failure(let e): result = e.name
        }
        let method = Self.methods[request.method] == nil ? "unknown" : request.method
        requestCounters.withLockedValue { counters in
            let key = method + " " + result
            let counter = counters[key] ?? Metrics.Counter(label: "mptcpctld_api_requests_total", dimensions: [("method", method), ("result", result)])
            counters[key] = counter
            counter.increment()
        }
        return outcome
    }

    func isAdmin(_ peer: ControlPeer) -> Bool {
        if peer.uid == 0 { return true }
        guard let adminGroup else { return false }
        if peer.gid == adminGroup { return true }
        return supplementaryGroups(uid: peer.uid, gid: peer.gid).contains(adminGroup)
    }

    // MARK: Methods

    func status() -> JSONValue {
        let s = state.snapshot
        // The worker thread is inside the namespace (ControlServer): read directly.
        let sysctl = MPTCPSysctl(namespace: .current)
        let pathManager = try? sysctl.pathManager()
        let scheduler = try? sysctl.scheduler()
        return [
            "version": .string(mptcpctlVersion),
            "api_version": .integer(Int64(controlAPIVersion)),
            "pid": .integer(Int64(getpid())),
            "namespace": .string(namespace.name ?? "host"),
            "uptime_seconds": .number((state.uptimeSeconds * 1000).rounded() / 1000),
            "path_manager": pathManager.map { .string($0) } ?? .null,
            "scheduler": scheduler.map { .string($0) } ?? .null,
            "config": .string(s.configPath),
            "config_loaded_at": .string(iso8601(s.loadedAt)),
            "reloads": .integer(Int64(s.reloads)),
            "owned_endpoints": .integer(Int64(s.owned.count)),
            "connections": s.manager.map { .integer(Int64($0.count)) } ?? .null,
            "userspace_path_manager": .bool(s.manager != nil),
            "api_requests": .integer(Int64(requests.load(ordering: .relaxed))),
        ]
    }

    func connections() throws(RPCError) -> JSONValue {
        let table: [Connection]
        let interfaces: InterfaceTable
        do {
            table = try ConnectionTable.read(namespace: .current)
            interfaces = try InterfaceTable.read(namespace: .current)
        } catch { throw .kernel("\(error)") }
        let policies = state.snapshot.manager?.policyNames() ?? [:]
        return .array(table.map { c in
            var entry: [String: JSONValue] = [
                "token": .string(formatToken(c.token)), "side": .string(c.side.rawValue),
                "local_address": .string(c.localAddress.description), "local_port": .integer(Int64(c.localPort)),
                "remote_address": .string(c.remoteAddress.description), "remote_port": .integer(Int64(c.remotePort)),
                "subflows": .array(c.subflows.map { s in
                    var sub: [String: JSONValue] = [
                        "local_address": .string(s.localAddress.description), "local_port": .integer(Int64(s.localPort)),
                        "remote_address": .string(s.remoteAddress.description), "remote_port": .integer(Int64(s.remotePort)),
                        "local_id": .integer(Int64(s.localID)), "remote_id": .integer(Int64(s.remoteID)), "backup": .bool(s.backup),
                        "state": .string(s.state.name),
                    ]
                    if s.interfaceIndex != 0 { sub["interface"] = .string(interfaces.names[s.interfaceIndex] ?? "if\(s.interfaceIndex)") }
                    return .object(sub)
                }),
            ]
            if let name = policies[c.token] { entry["policy"] = .string(name) }
            return .object(entry)
        })
    }

    func endpoints() throws(RPCError) -> JSONValue {
        let list: [Endpoint]
        let interfaces: InterfaceTable
        do {
            list = try kernel.pathManager.endpoints()
            interfaces = try InterfaceTable.read(namespace: .current)
        } catch { throw .kernel("\(error)") }
        let owned = state.snapshot.owned
        return .array(list.map { e in
            var entry: [String: JSONValue] = [
                "id": .integer(Int64(e.id)), "address": .string(e.address.description),
                "flags": .array(e.flags.names.map { .string($0) }),
                "owned": .bool(owned.contains(OwnedEndpoint(id: e.id, address: e.address))),
            ]
            if e.port != 0 { entry["port"] = .integer(Int64(e.port)) }
            if e.interfaceIndex != 0 { entry["interface"] = .string(interfaces.names[e.interfaceIndex] ?? "if\(e.interfaceIndex)") }
            return .object(entry)
        })
    }

    func interfaces() throws(RPCError) -> JSONValue {
        let snapshot: NetworkSnapshot
        do { snapshot = try kernel.network.read() } catch { throw .kernel("\(error)") }
        let policy = state.snapshot.policy
        return .array(snapshot.links.sorted { $0.index < $1.index }.map { link in
            let rule = policy.rule(for: link.name)
            return [
                "name": .string(link.name), "index": .integer(Int64(link.index)),
                "up": .bool(link.flags & 1 != 0), "oper_state": .string(link.operState.description),
                "role": rule.map { .string($0.role.rawValue) } ?? .null,
                "rule": rule.map { .integer(Int64($0.position)) } ?? .null,
                "addresses": .array(snapshot.addresses.filter { $0.interfaceIndex == link.index }.map {
                    .string("\($0.address)/\($0.prefixLength)")
                }),
            ]
        })
    }

    func policyShow() throws(RPCError) -> JSONValue {
        let s = state.snapshot
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        do {
            let policy = try JSONDecoder().decode(JSONValue.self, from: try encoder.encode(s.policy))
            return ["config": .string(s.configPath), "loaded_at": .string(iso8601(s.loadedAt)), "policy": policy]
        } catch {
            throw .internalError("cannot show the policy: \(error)")
        }
    }

    /// Every metric family this daemon exports (`mptcpctld(8)`, METRICS).
    static let metricFamilies = DaemonMetrics.families(methods: Array(methods.keys))

    /// The metrics in the Prometheus text format (for node_exporter's textfile
    /// collector, or `[metrics] listen`); gauges are read at this moment. Every
    /// family has HELP and TYPE, every declared series exists from start-up (at
    /// 0), and the order is fixed (`PrometheusText.normalised`).
    func metrics() -> Result<JSONValue, RPCError> {
        guard let registry else { return .failure(.unavailable("metrics are not collected by this daemon")) }
        let s = state.snapshot
        Metrics.Gauge(label: "mptcpctld_managed_connections").record(s.manager?.count ?? 0)
        Metrics.Gauge(label: "mptcpctld_owned_endpoints").record(s.owned.count)
        Metrics.Gauge(label: "mptcpctld_uptime_seconds").record(state.uptimeSeconds)
        Metrics.Gauge(label: "mptcpctld_policy_reloads").record(s.reloads)
        recordSubflowGauges()
        return .success(["text": .string(PrometheusText.normalised(registry.emitToString(), families: Self.metricFamilies))])
    }

    /// The namespace's MPTCP subflows now, by the truth `connections` shows:
    /// those that carry traffic (established) and joins under way (syn-sent,
    /// syn-recv). Not recorded when sock_diag cannot be read (the last values stay).
    /// Read in the daemon's namespace, whichever thread asks (the control
    /// socket's worker, or the HTTP endpoint's).
    private func recordSubflowGauges() {
        let table: [Connection]
        do { table = try ConnectionTable.read(namespace: namespace) } catch {
            logger.warning("cannot list connections for the subflow gauges", metadata: ["error": "\(error)"])
            return
        }
        let subflows = table.flatMap(\.subflows)
        Metrics.Gauge(label: "mptcpctld_active_subflows").record(subflows.filter(\.carriesTraffic).count)
        Metrics.Gauge(label: "mptcpctld_pending_subflows").record(subflows.filter(\.state.isHandshaking).count)
    }

    /// Checks the parameters; the connection's handler then starts the stream
    /// (`event` notifications, `events_missed` when its queue overflowed).
    func subscribe(_ p: RPCParams) throws(RPCError) -> JSONValue {
        var kinds = DaemonEvent.Kind.allCases
        if let v = p.values["kinds"], v != .null {
            guard let list = v.arrayValue, !list.isEmpty else { throw .invalidParams("params.kinds: expected a non-empty array of strings") }
            kinds = []
            for item in list {
                guard let name = item.stringValue, let kind = DaemonEvent.Kind(rawValue: name) else {
                    throw .invalidParams("params.kinds: \(item) is not one of "
                        + DaemonEvent.Kind.allCases.map(\.rawValue).joined(separator: ", "))
                }
                if !kinds.contains(kind) { kinds.append(kind) }
            }
        }
        return ["subscribed": true, "kinds": .array(kinds.map { .string($0.rawValue) }),
                "queue": .integer(Int64(ControlServer.subscriberQueue))]
    }

    /// Validates the file first, so the caller gets the problems; a valid one is
    /// applied by the service's loop, as SIGHUP would.
    func policyReload() throws(RPCError) -> JSONValue {
        let path = state.snapshot.configPath
        switch PolicyFile.load(path: path, namespace: .current) {
        case .failure(let problems):
            throw .invalidPolicy(problems.lines.joined(separator: "\n"))
        case .success(let checked):
            let new = checked.policy
            // The difference from the running policy, taken before the loop can replace it.
            let changes = policyDifferences(from: state.snapshot.policy, to: new)
            reload()
            return ["config": .string(path), "reloading": true, "changes": .array(changes.map { c in
                ["key": .string(c.key), "old": c.old ?? .null, "new": c.new ?? .null]
            })]
        }
    }

    /// What the daemon would change now under the policy it runs (`mptcpctld --plan`'s content).
    func policyPlan() throws(RPCError) -> JSONValue {
        let s = state.snapshot
        let result: PlanResult
        let plan: JSONValue
        do {
            result = try PlanResult(kernel: kernel, owned: s.owned, policy: s.policy)
        } catch { throw .kernel("\(error)") }
        do { plan = try JSONDecoder().decode(JSONValue.self, from: try result.json()) } catch {
            throw .internalError("cannot encode the plan: \(error)")
        }
        guard case .object(var members) = plan else { throw .internalError("cannot encode the plan") }
        members["text"] = .string(result.text)
        members["pending"] = .integer(Int64(result.plan.changes.count + result.settings.count))
        return .object(members)
    }

    // MARK: Userspace path manager commands. A subflow made here is left alone by
    // the policy until it closes; one the policy wants and that is destroyed here
    // comes back, as after any failure.

    func subflowCreate(_ p: RPCParams) throws(RPCError) -> JSONValue {
        let token = try p.token()
        let local = try p.address("local")
        let remote = AddressAndPort(address: try p.address("remote"), port: try p.port("remote_port", required: true))
        let backup = try p.bool("backup") ?? false
        let index = try interfaceIndex(p)
        let givenID = try p.integer("local_id", in: 1...255)
        // On a connection the daemon manages, the policy keeps its hands off it.
        let manager = state.snapshot.manager
        manager?.setManual(token: token, local: local, remote: remote, pinned: true)
        return try kernelCall(undo: { manager?.setManual(token: token, local: local, remote: remote, pinned: false) }) {
            () throws(MPTCPError) -> JSONValue in
            // Without one: the id the connection already uses for the address, else the lowest free.
            let id: UInt8
            if let givenID { id = UInt8(givenID) } else { id = try kernel.pathManager.localID(token: token, for: local) }
            try kernel.pathManager.createSubflow(token: token, local: Endpoint(id: id, address: local, flags: backup ? .backup : [],
                                                                               interfaceIndex: index), remote: remote)
            return ["token": .string(formatToken(token)), "local": .string(local.description), "local_id": .integer(Int64(id)),
                    "remote": .string(remote.address.description), "remote_port": .integer(Int64(remote.port)), "backup": .bool(backup)]
        }
    }

    func subflowDestroy(_ p: RPCParams) throws(RPCError) -> JSONValue {
        let token = try p.token()
        let local = AddressAndPort(address: try p.address("local"), port: try p.port("local_port", required: true))
        let remote = AddressAndPort(address: try p.address("remote"), port: try p.port("remote_port", required: true))
        state.snapshot.manager?.setManual(token: token, local: local.address, remote: remote, pinned: false)
        return try kernelCall { () throws(MPTCPError) -> JSONValue in
            try kernel.pathManager.destroySubflow(token: token, local: local, remote: remote)
            return ["destroyed": true]
        }
    }

    func subflowSetBackup(_ p: RPCParams) throws(RPCError) -> JSONValue {
        let token = try p.token()
        let local = AddressAndPort(address: try p.address("local"), port: try p.port("local_port", required: false))
        let remote = AddressAndPort(address: try p.address("remote"), port: try p.port("remote_port", required: false))
        guard let backup = try p.bool("backup") else { throw .invalidParams("params.backup: required") }
        return try kernelCall { () throws(MPTCPError) -> JSONValue in
            try kernel.pathManager.setSubflowBackup(token: token, local: local, remote: remote, backup: backup)
            return ["backup": .bool(backup)]
        }
    }

    func announce(_ p: RPCParams) throws(RPCError) -> JSONValue {
        let token = try p.token()
        let address = try p.address("address")
        guard let id = try p.integer("id", in: 1...255) else { throw .invalidParams("params.id: required") }
        let port = try p.port("port", required: false)
        let index = try interfaceIndex(p)
        return try kernelCall { () throws(MPTCPError) -> JSONValue in
            try kernel.pathManager.announce(token: token, address: Endpoint(id: UInt8(id), address: address, port: port, flags: .signal,
                                                                            interfaceIndex: index))
            return ["announced": true]
        }
    }

    /// `params.interface` as an interface index of the daemon's namespace; 0 when absent.
    private func interfaceIndex(_ p: RPCParams) throws(RPCError) -> Int32 {
        guard let name = try p.string("interface") else { return 0 }
        let table: InterfaceTable
        do { table = try InterfaceTable.read(namespace: .current) } catch { throw .kernel("\(error)") }
        guard let i = table.index(of: name) else { throw .invalidParams("params.interface: no interface \"\(name)\"") }
        return i
    }

    func remove(_ p: RPCParams) throws(RPCError) -> JSONValue {
        let token = try p.token()
        guard let id = try p.integer("id", in: 0...255) else { throw .invalidParams("params.id: required") }
        return try kernelCall { () throws(MPTCPError) -> JSONValue in
            try kernel.pathManager.remove(token: token, localID: UInt8(id))
            return ["removed": true]
        }
    }

    /// A kernel request: its refusal becomes `kernel_error` with the kernel's words
    /// (or `invalid_params` for what MPTCPKit refused before asking).
    private func kernelCall(undo: () -> Void = {}, _ body: () throws(MPTCPError) -> JSONValue) throws(RPCError) -> JSONValue {
        do { return try body() } catch {
            undo()
            throw error.code == .invalidArgument ? .invalidParams(error.description) : .kernel(error.description)
        }
    }

    func interfaceNotify(_ p: RPCParams) throws(RPCError) -> JSONValue {
        let name = try p.string("interface")
        let action = try p.string("action")
        if let action, action.isEmpty || action.count > 64 || !action.allSatisfy({ $0.isASCII && !$0.isWhitespace }) {
            throw .invalidParams("params.action: a word such as \"up\" or \"dhcp4-change\", not \"\(action)\"")
        }
        if let name {
            let links: [Link]
            do { links = try kernel.network.read().links } catch { throw .kernel("\(error)") }
            guard links.contains(where: { $0.name == name }) else {
                throw .invalidParams("params.interface: no interface \"\(name)\" in \(namespace.name ?? "the host namespace")")
            }
        }
        logger.info("re-examining interfaces on request", metadata: ["interface": "\(name ?? "all")", "action": "\(action ?? "-")"])
        notifyNetwork()
        var result: [String: JSONValue] = ["interface": name.map { .string($0) } ?? .null, "queued": true]
        if let action { result["action"] = .string(action) }
        return .object(result)
    }
}

private func iso8601(_ seconds: Double) -> String {
    Date(timeIntervalSince1970: seconds).formatted(.iso8601)
}

/// The supplementary groups of `uid` from the user database (`getgrouplist`).
private func supplementaryGroups(uid: UInt32, gid: UInt32) -> [UInt32] {
    var pw = passwd()
    var result: UnsafeMutablePointer<passwd>?
    var buffer = [CChar](repeating: 0, count: 4096)
    guard getpwuid_r(uid, &pw, &buffer, buffer.count, &result) == 0, result != nil, let name = pw.pw_name else { return [] }
    var count: Int32 = 64
    var groups = [gid_t](repeating: 0, count: 64)
    if getgrouplist(name, gid, &groups, &count) < 0 {
        groups = [gid_t](repeating: 0, count: Int(count))
        guard getgrouplist(name, gid, &groups, &count) >= 0 else { return [] }
    }
    return Array(groups.prefix(Int(count)))
}

extension RPCParams {
    /// `token`: 8 hex digits as `monitor` prints it, or 0x-prefixed.
    func token() throws(RPCError) -> UInt32 {
        let text = try requiredString("token")
        guard let token = parseToken(text) else { throw .invalidParams("params.token: \"\(text)\" is not 8 hex digits") }
        return token
    }

    func address(_ key: String) throws(RPCError) -> IPAddress {
        let text = try requiredString(key)
        guard let address = IPAddress(text) else { throw .invalidParams("params.\(key): \"\(text)\" is not an IPv4 or IPv6 address") }
        return address
    }

    /// A port (1-65535); 0 when absent and not required.
    func port(_ key: String, required: Bool) throws(RPCError) -> UInt16 {
        guard let port = try integer(key, in: 1...65535) else {
            if required { throw .invalidParams("params.\(key): required") }
            return 0
        }
        return UInt16(port)
    }
}
