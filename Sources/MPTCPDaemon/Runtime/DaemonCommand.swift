import ArgumentParser
import FoundationEssentials
import Logging
import MPTCPAPI
import MPTCPKit
import Metrics
import MPTCPPolicy
import Prometheus
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// `mptcpctld`: keeps the kernel's MPTCP endpoints in line with a policy file.
public struct MPTCPCtlD: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "mptcpctld",
        abstract: "Keep the kernel's MPTCP endpoints in line with a policy file.",
        discussion: "Runs in the foreground; SIGHUP reloads the file, SIGTERM stops. See mptcpctld(8) and mptcpctld.toml(5).",
        version: mptcpctlVersion
    )

    public init() {}

    static let defaultConfig = "/etc/mptcpctl/mptcpctld.toml"

    @Option(help: ArgumentHelp("The policy file.", valueName: "FILE"))
    var config: String = MPTCPCtlD.defaultConfig

    @Option(name: [.customShort("n"), .customLong("netns")], help: ArgumentHelp("Act in the network namespace NAME (/run/netns/NAME).", valueName: "NAME"))
    var netns: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (overrides the file).", valueName: "LEVEL"))
    var logLevel: String?

    @Flag(help: "Validate the policy file (against the running kernel too) and exit: 0 valid, 1 with every problem listed.")
    var check = false

    @Flag(help: "Print the changes the daemon would make now and exit: 0 nothing to do, 2 changes, 1 error.")
    var plan = false

    @Flag(name: [.customShort("j"), .long], help: "With --check or --plan: print JSON.")
    var json = false

    public func validate() throws {
        if check && plan { throw ValidationError("--check and --plan exclude each other") }
        if json && !plan && !check { throw ValidationError("--json goes with --check or --plan") }
        if let logLevel, LogLevel(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of: " + LogLevel.allCases.map(\.rawValue).joined(separator: ", "))
        }
    }

    /// Without `-n`, the name of the namespace `ip netns exec NAME` started us
    /// in, so that its socket, lock and ownership record are the ones `-n NAME`
    /// would use (and the CLI, run the same way, finds this daemon); nil on the
    /// host or in a namespace with no name under /run/netns.
    static func enclosingNamespaceName() -> String? {
        if case .named(let name) = NamespaceIdentity.current() { return name }
        return nil
    }

    public func run() async throws {
        let namespace: NetworkNamespace
        do {
            namespace = try (netns ?? Self.enclosingNamespaceName()).map { try NetworkNamespace(named: $0) } ?? .current
            // A namespace that does not exist is said once, here, for every mode.
            try namespace.perform {}
        } catch {
            throw Failure(error)
        }
        let checked: CheckedPolicy
        switch PolicyFile.load(path: config, namespace: namespace) {
        case .success(let c): checked = c
        case .failure(let problems):
            guard json else {
                for line in problems.lines { StandardError.write(line + "\n") }
                throw ExitCode(1)
            }
            // --check keeps its report on stdout (valid: false); both modes fail with one error object.
            let report = CheckReport(file: config, policy: nil, warnings: [], problems: problems.diagnostics)
            if check { print(report.json) }
            throw Failure("the policy file is invalid: " + problems.lines.joined(separator: "; "),
                          code: "invalid-policy", problems: report.problemsJSON)
        }
        let policy = checked.policy
        if check {
            let report = CheckReport(file: config, policy: policy, warnings: checked.warnings, problems: [])
            if json {
                print(report.json)
            } else {
                for w in checked.warnings { StandardError.write("warning: " + w.formatted(file: config) + "\n") }
                print(report.text)
            }
            return
        }
        if plan {
            throw ExitCode(try PlanCommand(policy: policy, namespace: namespace, json: json).run())
        }

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

        let hub = EventHub()
        let reconciler: Reconciler
        do {
            let kernel = try KernelHandle(namespace: namespace)
            let store = OwnershipStore(directory: policy.daemon.stateDirectory, namespace: namespace)
            reconciler = try Reconciler(policy: policy, kernel: kernel, store: store, logger: logger, hub: hub)
            // Fail now, not by retrying forever, when we may not change anything:
            // rewriting the current limits is a no-op that needs CAP_NET_ADMIN.
            let limits = try kernel.pathManager.limits()
            try kernel.pathManager.setLimits(subflows: limits.subflows, addAddrAccepted: limits.addAddrAccepted)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        let doorbell = Doorbell()
        let state = DaemonState(policy: policy, configPath: config)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
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
        let hooks = HookRunner(settings: policy.hooks, hub: hub, namespace: namespace,
                               socketPath: policy.daemon.socketPath(namespace: namespace.name), logger: logger)
        let service = DaemonService(reconciler: reconciler, configPath: config, namespace: namespace, logger: logger,
                                    doorbell: doorbell, state: state, hub: hub, hooks: hooks)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: service), .init(service: control)]
        if let listen = policy.metrics.listen.flatMap(MetricsListen.init) {
            services.append(.init(service: MetricsServer(listen: listen, api: control.api, logger: logger)))
        }
        let group = ServiceGroup(configuration: .init(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            logger.critical("stopped on an error", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }

    /// The entry point (`main.swift`). Exit statuses: 1 failure, 64 usage (as mptcpctl).
    /// With `--json` (`--check`, `--plan`), a failure is one JSON object on
    /// stderr, `{"error": {"code", "message", "status", …}}`, as mptcpctl prints them.
    public static func launch() async {
        var json = false
        do {
            var command = try parseAsRoot()
            json = (command as? MPTCPCtlD)?.json ?? false
            if var async = command as? AsyncParsableCommand { try await async.run() } else { try command.run() }
        } catch let failure as Failure {
            if json {
                StandardError.write(RPCWire.text(failure.json) + "\n")
            } else {
                StandardError.write("mptcpctld: " + failure.message + "\n")
            }
            Glibc.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                let text = fullMessage(for: error)
                if !text.isEmpty { print(text) }
                Glibc.exit(0)
            }
            if error is ExitCode { Glibc.exit(code.rawValue) }
            let message = message(for: error)
            StandardError.write("mptcpctld: " + message + "\n")
            Glibc.exit(code == .validationFailure ? 64 : code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}

/// The id of group `name`, for the `key` that names it.
func requireGroup(_ key: String, _ name: String) throws -> UInt32 {
    guard let id = groupID(name) else { throw Failure("\(key): no group \"\(name)\" on this system") }
    return id
}
