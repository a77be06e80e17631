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

    @Flag(name: [.customShort("j"), .long], help: "With --check or --plan: print JSON.")
    var json = false

    func validate() throws {
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

    func run() async throws {
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
                for line in problems.lines { FileHandle.standardError.write(Data((line + "\n").utf8)) }
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
                for w in checked.warnings { FileHandle.standardError.write(Data(("warning: " + w.formatted(file: config) + "\n").utf8)) }
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

    /// Exit statuses: 1 failure, 64 usage (as mptcpctl).
    /// With `--json` (`--check`, `--plan`), a failure is one JSON object on
    /// stderr, `{"error": {"code", "message", "status", …}}`, as mptcpctl prints them.
    static func main() async {
        var json = false
        do {
            var command = try parseAsRoot()
            json = (command as? MPTCPCtlD)?.json ?? false
            if var async = command as? AsyncParsableCommand { try await async.run() } else { try command.run() }
        } catch let failure as Failure {
            if json {
                FileHandle.standardError.write(Data((RPCWire.text(failure.json) + "\n").utf8))
            } else {
                FileHandle.standardError.write(Data(("mptcpctld: " + failure.message + "\n").utf8))
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
            FileHandle.standardError.write(Data(("mptcpctld: " + message + "\n").utf8))
            Glibc.exit(code == .validationFailure ? 64 : code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}

/// The id of group `name`, for the `key` that names it.
func requireGroup(_ key: String, _ name: String) throws -> UInt32 {
    guard let id = groupID(name) else { throw Failure("\(key): no group \"\(name)\" on this system") }
    return id
}

/// A start-up failure: one line on stderr (with --json, mptcpctl's error object), exit 1.
struct Failure: Error {
    var message: String
    /// mptcpctl's failure code (mptcpctl(8), JSON ERRORS): `failure`, `not-found`, `invalid-policy`, ….
    var code: String
    /// `invalid-policy`: every problem, as `--check --json` lists them.
    var problems: JSONValue?
    init(_ message: String, code: String = "failure", problems: JSONValue? = nil) {
        self.message = message
        self.code = code
        self.problems = problems
    }

    /// Classified as mptcpctl classifies it: a namespace that does not exist is `not-found`.
    init(_ error: Error) {
        let notFound = (error as? MPTCPError)?.code == .notFound
        self.init("\(error)", code: notFound ? "not-found" : "failure")
    }

    /// `{"error": {"code", "message", "status": 1, "problems"?}}`.
    var json: JSONValue {
        var fields: [String: JSONValue] = ["code": .string(code), "message": .string(message), "status": .integer(1)]
        if let problems { fields["problems"] = problems }
        return ["error": .object(fields)]
    }
}

/// Reads and validates a policy file, checking it against the running kernel
/// when its sysctls can be read, and against the system (`SystemChecks`): the
/// one way start-up, reload, `--check` and `--plan` read a policy.
enum PolicyFile {
    struct Problems: Error {
        var file: String
        var diagnostics: [PolicyDiagnostic]

        /// `FILE:LINE: KEY: message`, one per problem.
        var lines: [String] { diagnostics.map { $0.formatted(file: file) } }

        init(file: String, diagnostics: [PolicyDiagnostic]) {
            self.file = file
            self.diagnostics = diagnostics
        }

        /// A problem with the file as a whole (it cannot be read).
        init(file: String, _ message: String) {
            self.init(file: file, diagnostics: [PolicyDiagnostic(line: nil, key: "", message: message)])
        }
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
    /// policy stays). A device (`/dev/null`) is read once to its end; a pipe
    /// (FIFO), a socket or a directory is refused, never waited on.
    ///
    /// An empty file, like one of only blank lines and comments, is a valid
    /// policy with every default (`mptcpctld.toml(5)`): the rule is the
    /// loader's, whatever kind of file the bytes come from.
    static func load(path: String, namespace: NetworkNamespace) -> Result<CheckedPolicy, Problems> {
        let bytes: [UInt8]
        switch settledBytes(path) {
        case .success(let b): bytes = b
        case .failure(let problem): return .failure(problem)
        }
        do {
            return .success(try PolicyLoader.check(bytes: bytes, file: path, offer: KernelHandle.offer(namespace: namespace),
                                                   environment: SystemChecks(namespace: namespace)))
        } catch {
            return .failure(Problems(file: path, diagnostics: error.diagnostics))
        }
    }
}

extension PolicyFile {
    /// Kinds of file that never hold a policy: a directory, and the ones a read
    /// could wait on forever (a pipe with no writer, a socket).
    private static let refusedKinds: [mode_t: String] = [
        S_IFDIR: "a directory", S_IFIFO: "a pipe (FIFO)", S_IFSOCK: "a socket",
    ]

    /// The whole content of `path` (any kind of file), with its identity and
    /// time stamp when it is a regular file that did not change while read
    /// (`stamp` empty: it did, or it is no regular file).
    private static func read(_ path: String) -> Result<(bytes: [UInt8], stamp: [Int], regular: Bool), Problems> {
        // O_NONBLOCK: opening a FIFO would otherwise wait for a writer forever
        // (at start-up, or on SIGHUP in the service's loop); what it opened is
        // judged by fstat below, and blocking reads restored for the rest.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let code = errno
            if code == ENXIO { return .failure(Problems(file: path, "is a socket, not a policy file")) }
            return .failure(Problems(file: path, code == ENOENT ? "does not exist" : "cannot be read: \(String(cString: strerror(code)))"))
        }
        defer { close(fd) }
        var before = stat()
        guard fstat(fd, &before) == 0 else { return .failure(Problems(file: path, "cannot be read: \(String(cString: strerror(errno)))")) }
        if let kind = Self.refusedKinds[before.st_mode & S_IFMT] {
            return .failure(Problems(file: path, "is \(kind), not a policy file"))
        }
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
            return .failure(Problems(file: path, "cannot be read: \(String(cString: strerror(errno)))"))
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(Problems(file: path, "cannot be read: \(String(cString: strerror(errno)))"))
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
            // A policy is a few KiB; a runaway pipe or device is not one.
            if bytes.count > 16 << 20 { return .failure(Problems(file: path, "is larger than 16 MiB: not a policy file")) }
        }
        let regular = before.st_mode & S_IFMT == S_IFREG
        guard regular else { return .success((bytes, [], false)) }
        var after = stat()
        guard stat(path, &after) == 0 else { return .failure(Problems(file: path, "does not exist")) }
        let stamp = [Int(after.st_ino), Int(after.st_size), after.st_mtim.tv_sec, after.st_mtim.tv_nsec]
        let same = stamp == [Int(before.st_ino), Int(before.st_size), before.st_mtim.tv_sec, before.st_mtim.tv_nsec]
        return .success((bytes, same ? stamp : [], true))
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

    private static func settledBytes(_ path: String) -> Result<[UInt8], Problems> {
        var info = stat()
        if stat(path, &info) == 0 && info.st_mode & S_IFMT != S_IFREG {
            // A device or a pipe has no half-written state to wait out.
            return read(path).map(\.bytes)
        }
        let clock = ContinuousClock()
        let deadline = clock.now + patience
        var previous: (bytes: [UInt8], stamp: [Int])?
        while true {
            if clock.now >= deadline {
                return .failure(Problems(file: path, "still being written after \(patience) (open for writing, or changing); not read"))
            }
            // Someone has it open for writing: wait until they close it.
            let writing = beingWritten(path)
            if writing == true {
                pause(.milliseconds(50))
                continue
            }
            let current: (bytes: [UInt8], stamp: [Int])
            switch read(path) {
            case .success(let c):
                if !c.regular { return .success(c.bytes) }  // replaced by a device or pipe meanwhile
                current = (c.bytes, c.stamp)
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
            if (writing == false && age >= settle) || age >= settle * 5 { return .success(current.bytes) }
            if let previous, previous.stamp == current.stamp, previous.bytes == current.bytes, age >= settle {
                return .success(current.bytes)
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
