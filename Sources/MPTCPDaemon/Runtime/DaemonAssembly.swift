import ArgumentParser
import FoundationEssentials
import Logging
import Metrics
import MPTCPKit
import MPTCPPolicy
import Prometheus
import ServiceLifecycle

/// The daemon put together: the single-instance lock, logging, the one
/// policy store, the endpoint thread's loop, the control and metrics servers,
/// and the service group that runs them until SIGTERM or SIGINT.
extension MPTCPCtlD {
    func serve(_ checked: CheckedPolicy, namespace: NetworkNamespace) async throws {
        let policy = checked.policy
        // One daemon per namespace, decided before the ownership record, the
        // kernel or the socket is touched: the loser changes nothing.
        let instance: InstanceLock
        do {
            instance = try InstanceLock.acquire(namespace: namespace, socket: policy.daemon.socketPath(namespace: namespace.name))
        } catch {
            throw Failure("\(error)")
        }
        defer { instance.release() }

        let level = Logger.Level(rawValue: logLevel ?? policy.daemon.logLevel.rawValue) ?? .info
        let journal = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] != nil
        LoggingSystem.bootstrap { label in JournalLogHandler(label: label, level: level, journal: journal) }
        let logger = Logger(label: "mptcpctld")
        logger.debug("single-instance lock taken", metadata: ["lock": "\(instance.path)"])
        for w in checked.warnings { logger.warning("\(w.formatted(file: config))") }

        let policies = PolicyStore(policy)
        let hub = EventHub(keepingStartUp: true)
        let doorbell = Doorbell()
        let state = DaemonState(policies: policies, configPath: config)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let loop = try makeLoop(policies: policies, namespace: namespace, logger: logger, doorbell: doorbell, state: state, hub: hub)
        let control: ControlServer
        do {
            // Checked with the policy (SystemChecks); a group deleted since is still caught here.
            let socketGroup = try policy.daemon.socketGroup.map { try requireGroup("daemon.socket_group", $0) }
            let adminGroup = try policy.daemon.adminGroup.map { try requireGroup("daemon.admin_group", $0) }
            let api = ControlAPI(state: state, kernel: try KernelHandle(namespace: namespace), namespace: namespace,
                                 adminGroup: adminGroup, logger: logger, registry: registry, hub: hub,
                                 notifyNetwork: { doorbell.ring(.network) },
                                 reload: { doorbell.ring(.reload) })
            control = ControlServer(path: policy.daemon.socketPath(namespace: namespace.name), socketGroup: socketGroup,
                                    api: api, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: DaemonService(loop: loop, logger: logger)), .init(service: control),
        ]
        if let listen = policy.metrics.listen.flatMap(MetricsListen.init) {
            services.append(.init(service: MetricsServer(listen: listen, api: control.api, logger: logger)))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            logger.critical("stopped on an error", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }

    /// The kernel handle, the reconciler (which reads the ownership record) and
    /// the hook runner, joined in the endpoint thread's loop. Fails now, not by
    /// retrying forever, when the daemon may not change anything.
    private func makeLoop(policies: PolicyStore, namespace: NetworkNamespace, logger: Logger, doorbell: Doorbell,
                          state: DaemonState, hub: EventHub) throws -> EndpointLoop {
        let policy = policies.current
        let kernel: KernelHandle
        let reconciler: Reconciler
        let routing: RoutingOwner
        do {
            kernel = try KernelHandle(namespace: namespace)
            let store = OwnershipStore(directory: policy.daemon.stateDirectory, namespace: namespace)
            reconciler = try Reconciler(policies: policies, kernel: kernel.endpointKernel, store: store, logger: logger, hub: hub)
            // After the reconciler, which has read (or set aside) the record.
            routing = RoutingOwner(kernel: kernel.routingKernel, store: store, logger: logger, hub: hub)
            // Rewriting the current limits is a no-op that needs CAP_NET_ADMIN.
            let limits = try kernel.pathManager.limits()
            try kernel.pathManager.setLimits(subflows: limits.subflows, addAddrAccepted: limits.addAddrAccepted)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        let hooks = HookRunner(settings: policy.hooks, hub: hub, namespace: namespace,
                               socketPath: policy.daemon.socketPath(namespace: namespace.name), logger: logger)
        return EndpointLoop(reconciler: reconciler, routing: routing, kernel: kernel, policies: policies, configPath: config, namespace: namespace,
                            logger: logger, doorbell: doorbell, state: state, hub: hub, hooks: hooks)
    }
}
