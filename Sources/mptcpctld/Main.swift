import ArgumentParser
import Foundation
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
@main
struct MPTCPCtlD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mptcpctld",
        abstract: "Keep the kernel's MPTCP endpoints in line with a policy file.",
        discussion: "Runs in the foreground; SIGHUP reloads the file, SIGTERM stops. See mptcpctld(8) and mptcpctld.toml(5).",
        version: mptcpctlVersion
    )

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

    @Flag(name: [.customShort("j"), .long], help: "With --plan: print JSON.")
    var json = false

    func validate() throws {
        if check && plan { throw ValidationError("--check and --plan exclude each other") }
        if json && !plan { throw ValidationError("--json goes with --plan") }
        if let logLevel, LogLevel(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of: " + LogLevel.allCases.map(\.rawValue).joined(separator: ", "))
        }
    }

    func run() async throws {
        let namespace: NetworkNamespace
        do { namespace = try netns.map { try NetworkNamespace(named: $0) } ?? .current } catch {
            throw Failure("\(error)")
        }
        let policy: Policy
        switch PolicyFile.load(path: config, namespace: namespace) {
        case .success(let p): policy = p
        case .failure(let problems):
            for line in problems.lines { FileHandle.standardError.write(Data((line + "\n").utf8)) }
            throw ExitCode(1)
        }
        if check {
            print("\(config): valid (\(policy.interfaces.count) [[interface]] block\(policy.interfaces.count == 1 ? "" : "s"))")
            return
        }
        if plan {
            throw ExitCode(try PlanCommand(policy: policy, namespace: namespace, json: json).run())
        }

        let level = Logger.Level(rawValue: logLevel ?? policy.daemon.logLevel.rawValue) ?? .info
        let journal = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] != nil
        LoggingSystem.bootstrap { label in JournalLogHandler(label: label, level: level, journal: journal) }
        let logger = Logger(label: "mptcpctld")

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
            let socketGroup = try policy.daemon.socketGroup.map { try groupID("daemon.socket_group", $0) }
            let adminGroup = try policy.daemon.adminGroup.map { try groupID("daemon.admin_group", $0) }
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

    /// Exit statuses: 1 failure, 64 usage (as mptcpctl).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var async = command as? AsyncParsableCommand { try await async.run() } else { try command.run() }
        } catch let failure as Failure {
            FileHandle.standardError.write(Data(("mptcpctld: " + failure.message + "\n").utf8))
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
            FileHandle.standardError.write(Data(("mptcpctld: " + message + "\n").utf8))
            Glibc.exit(code == .validationFailure ? 64 : code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}

/// The id of group `name` (`getgrnam_r`), for the `key` that names it.
func groupID(_ key: String, _ name: String) throws -> UInt32 {
    var group = Glibc.group()
    var result: UnsafeMutablePointer<Glibc.group>?
    var buffer = [CChar](repeating: 0, count: 16384)
    let rc = getgrnam_r(name, &group, &buffer, buffer.count, &result)
    guard rc == 0, result != nil else { throw Failure("\(key): no group \"\(name)\" on this system") }
    return group.gr_gid
}

/// A start-up failure: one line on stderr, exit 1.
struct Failure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Reads and validates a policy file, checking it against the running kernel
/// when its sysctls can be read.
enum PolicyFile {
    struct Problems: Error {
        var lines: [String]
    }

    /// How long the file must have been left alone before it is read, and how
    /// long to wait for that at most.
    static let settle = Duration.milliseconds(200)
    static let patience = Duration.seconds(3)

    /// Reads `path` once it has stopped changing: a file replaced atomically
    /// (rename) is read whole at once; one being rewritten in place is read only
    /// once no process has it open for writing (a read lease tells) and no
    /// write has touched it for `settle`, so a half-written file is never
    /// applied. One that keeps changing for `patience` is refused (the running
    /// policy stays), and so is an empty one.
    static func load(path: String, namespace: NetworkNamespace) -> Result<Policy, Problems> {
        let text: String
        switch settledText(path) {
        case .success(let t): text = t
        case .failure(let problem): return .failure(problem)
        }
        // An empty file is valid TOML (every default: no interface used), but
        // never what an admin meant: most likely one caught being rewritten.
        if text.allSatisfy(\.isWhitespace) {
            return .failure(Problems(lines: ["\(path): is empty; an empty policy would use no interface (write at least one [[interface]] block)"]))
        }
        do {
            return .success(try PolicyLoader.load(text, file: path, offer: KernelHandle.offer(namespace: namespace)))
        } catch {
            return .failure(Problems(lines: error.diagnostics.map { $0.formatted(file: path) }))
        }
    }
}

extension PolicyFile {
    private static func read(_ path: String) -> Result<(text: String, stamp: [Int]), Problems> {
        var before = stat()
        guard stat(path, &before) == 0 else {
            return .failure(Problems(lines: ["\(path): does not exist"]))
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return .failure(Problems(lines: ["\(path): cannot be read as UTF-8 text"]))
        }
        var after = stat()
        guard stat(path, &after) == 0 else { return .failure(Problems(lines: ["\(path): does not exist"])) }
        let stamp = [Int(after.st_ino), Int(after.st_size), after.st_mtim.tv_sec, after.st_mtim.tv_nsec]
        let same = stamp == [Int(before.st_ino), Int(before.st_size), before.st_mtim.tv_sec, before.st_mtim.tv_nsec]
        return .success((text, same ? stamp : []))
    }

    /// Whether some process has `path` open for writing: a read lease
    /// (fcntl F_SETLEASE, F_RDLCK) is refused exactly then. Nil when the lease
    /// cannot be asked for here (not the file's owner, a file system without
    /// leases): the caller then goes by time alone.
    private static func beingWritten(_ path: String) -> Bool? {
        let setLease: Int32 = 1024  // F_SETLEASE (F_LINUX_SPECIFIC_BASE), hidden from Swift's Glibc
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if fcntl(fd, setLease, Int32(F_RDLCK)) == 0 {
            _ = fcntl(fd, setLease, Int32(F_UNLCK))
            return false
        }
        return errno == EAGAIN ? true : nil
    }

    private static func settledText(_ path: String) -> Result<String, Problems> {
        let clock = ContinuousClock()
        let deadline = clock.now + patience
        var previous: (text: String, stamp: [Int])?
        while true {
            if clock.now >= deadline {
                return .failure(Problems(lines: ["\(path): still being written after \(patience) (open for writing, or changing); not read"]))
            }
            // Someone has it open for writing: wait until they close it.
            let writing = beingWritten(path)
            if writing == true {
                pause(.milliseconds(50))
                continue
            }
            let current: (text: String, stamp: [Int])
            switch read(path) {
            case .success(let c): current = c
            case .failure(let p): return .failure(p)
            }
            if current.stamp.isEmpty {
                // Changed while it was read.
                pause(.milliseconds(50))
                continue
            }
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let age = Duration.seconds(now.tv_sec - current.stamp[2]) + .nanoseconds(now.tv_nsec - current.stamp[3])
            // Nobody writing it and nothing changed while it was read, or written
            // long ago (the usual case): one read is enough. Otherwise (a writer
            // that reopens it between parts, or no lease to tell) two reads
            // `settle` apart must agree.
            if (writing == false && age >= settle) || age >= settle * 5 { return .success(current.text) }
            if let previous, previous.stamp == current.stamp, previous.text == current.text, age >= settle {
                return .success(current.text)
            }
            previous = current
            pause(settle)
        }
    }
}

/// A blocking sleep (the loader runs on the service's loop, the API's worker
/// thread or `--check`, never on an event loop).
private func pause(_ d: Duration) {
    let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    usleep(UInt32(clamping: ms * 1000))
}

extension Failure: CustomStringConvertible {
    var description: String { message }
}
