import NIOConcurrencyHelpers
import FoundationEssentials
import Logging
import Metrics
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs the executables of `[hooks] directory` on events (`mptcpctld(8)`, HOOKS),
/// on a thread of its own, so path management never waits for a hook:
/// - the hooks of one event run one after another, in name order; at most
///   `max_concurrent` events have hooks running at once, the rest wait in a
///   queue of 1024 (beyond it, events are dropped, counted and logged);
/// - each hook is started directly (no shell) in a process group of its own,
///   with the event in `MPTCPCTL_*` environment variables, standard input from
///   /dev/null and its output captured (the first 1 KiB is logged, the rest
///   read and dropped);
/// - one that outlives `timeout` gets SIGTERM, and SIGKILL a second later, both
///   sent to its whole process group.
/// Everything but `wake`, `configure` and `join` runs on the runner's thread.
final class HookRunner: WatcherThread, @unchecked Sendable {
    static let queueLimit = 1024
    static let outputLimit = 1024
    /// The kinds hooks run on (through `hookEvent`); never `hook`, so what a
    /// hook did cannot run hooks again.
    static let kinds: Set<DaemonEvent.Kind> = [.kernel, .action, .interface, .policy, .health]

    private let hub: EventHub
    private let namespace: NetworkNamespace
    private let socketPath: String
    private let settings: NIOLockedValueBox<HookSettings>
    /// A self-pipe: `wake` writes a byte, the thread polls the read end.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let subscriber = NIOLockedValueBox<EventHub.Subscriber?>(nil)

    // The runner thread's own state.
    private var entered = false
    private var queue: [DaemonEvent] = []
    private var jobs: [Job] = []
    private var dropped = 0

    private final class Job {
        let event: DaemonEvent
        let name: String
        var hooks: [String]
        var child: Child?
        init(event: DaemonEvent, name: String, hooks: [String]) {
            self.event = event
            self.name = name
            self.hooks = hooks
        }
    }

    private struct Child {
        var pid: pid_t
        var hook: String
        var output: Int32
        var captured: [UInt8] = []
        var outputBytes = 0
        var deadline: ContinuousClock.Instant
        var terminated = false
    }

    init?(settings: HookSettings, hub: EventHub, namespace: NetworkNamespace, socketPath: String, logger: Logger) {
        var fds: [Int32] = [0, 0]
        guard makePipe(&fds, nonBlocking: true) else {
            logger.error("cannot create the hook runner's pipe: hooks are off", metadata: ["errno": "\(errno)"])
            return nil
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        self.hub = hub
        self.namespace = namespace
        self.socketPath = socketPath
        self.settings = NIOLockedValueBox(settings)
        super.init(what: "the hook runner thread", name: "mptcpctld-hooks", logger: logger)
        configure(settings)
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// Takes new settings (start-up, reload): hooks run only while the directory
    /// exists when this is called; hooks added to it later run without a reload.
    func configure(_ new: HookSettings) {
        settings.withLockedValue { $0 = new }
        var isDirectory = false
        let exists = FileManager.default.fileExists(atPath: new.directory, isDirectory: &isDirectory) && isDirectory
        subscriber.withLockedValue { current in
            if exists, current == nil {
                let wakeWrite = self.wakeWrite
                let s = EventHub.Subscriber(kinds: Self.kinds, capacity: Self.queueLimit,
                                           filter: { $0.hookEvent != nil }) {
                    var byte: UInt8 = 1
                    _ = write(wakeWrite, &byte, 1)
                }
                hub.add(s)
                current = s
                logger.info("running hooks", metadata: ["directory": "\(new.directory)", "timeout": "\(new.timeout)",
                                                        "max_concurrent": "\(new.maxConcurrent)"])
                hub.publish(.hooks(enabled: true, directory: new.directory, timeout: new.timeout, maxConcurrent: new.maxConcurrent))
            } else if !exists, let s = current {
                hub.remove(s)
                current = nil
                logger.info("no hooks: the directory does not exist", metadata: ["directory": "\(new.directory)"])
                hub.publish(.hooks(enabled: false, directory: new.directory, timeout: new.timeout, maxConcurrent: new.maxConcurrent))
            } else if !exists {
                logger.debug("no hooks: the directory does not exist", metadata: ["directory": "\(new.directory)"])
            }
        }
    }

    override func step() {
        if !entered {
            entered = true
            do { try namespace.enterOnThisThread() } catch {
                logger.error("hooks run outside the daemon's namespace", metadata: ["error": "\(error)"])
            }
        }
        collect()
        startJobs()
        waitForSomething()
        for i in jobs.indices { readOutput(i) }
        reap()
    }

    /// Stops the thread, then ends every hook still running (SIGKILL to its group).
    override func join() {
        subscriber.withLockedValue { s in
            if let s { hub.remove(s) }
            s = nil
        }
        super.join()
        for job in jobs {
            guard let child = job.child else { continue }
            kill(-child.pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(child.pid, &status, 0) < 0 && errno == EINTR {}
            close(child.output)
        }
        jobs = []
    }

    private func collect() {
        guard let s = subscriber.withLockedValue({ $0 }) else { return }
        var lost = 0
        for entry in s.take() {
            switch entry {
            case .event(let e) where e.hookEvent != nil:
                if queue.count >= Self.queueLimit { lost += 1 } else { queue.append(e) }
            case .event: break
            case .missed(let n): lost += n
            }
        }
        if lost > 0 {
            dropped += lost
            Counter(label: "mptcpctld_hook_events_dropped_total").increment(by: lost)
            logger.warning("hook events dropped: hooks are slower than events arrive", metadata: [
                "dropped": "\(lost)", "dropped_in_all": "\(dropped)", "queue": "\(Self.queueLimit)",
            ])
        }
    }

    private func startJobs() {
        let current = settings.withLockedValue { $0 }
        while jobs.count < current.maxConcurrent, !queue.isEmpty {
            let event = queue.removeFirst()
            guard let name = event.hookEvent else { continue }
            let hooks = Self.hooks(in: current.directory)
            if hooks.isEmpty { continue }
            jobs.append(Job(event: event, name: name, hooks: hooks))
        }
        for i in jobs.indices where jobs[i].child == nil { startNext(i, timeout: current.timeout) }
        jobs.removeAll { $0.child == nil && $0.hooks.isEmpty }
    }

    /// The hooks of `directory`: executable regular files, in name order, without
    /// hidden files and package managers' leftovers.
    static func hooks(in directory: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.compactMap { name in
            if name.hasPrefix(".") || name.hasSuffix("~") || name.firstRange(of: ".dpkg-") != nil || name.hasSuffix(".rpmsave")
                || name.hasSuffix(".rpmnew") || name.hasSuffix(".disabled") { return nil }
            let path = directory + "/" + name
            var info = stat()
            guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(path, X_OK) == 0 else { return nil }
            return path
        }
    }

    /// Starts the job's next hook (those that cannot start are logged and skipped).
    private func startNext(_ i: Int, timeout: Int) {
        let job = jobs[i]
        while !job.hooks.isEmpty {
            let hook = job.hooks.removeFirst()
            switch spawn(hook, job) {
            case .success(let child):
                job.child = Child(pid: child.pid, hook: hook, output: child.output, deadline: .now + .seconds(timeout))
                return
            case .failure(let failure):
                Counter(label: "mptcpctld_hook_runs_total", dimensions: [("result", "spawn_error")]).increment()
                let error = String(cString: strerror(failure.code))
                logger.error("cannot start a hook", metadata: ["hook": "\(hook)", "event": "\(job.name)", "error": "\(error)"])
                hub.publish(.hookRun("not_started", hook: hook, event: job.name, pid: nil, ["error": .string(error)]))
            }
        }
    }

    private func environment(_ job: Job) -> [String] {
        var env = [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "MPTCPCTL_EVENT=\(job.name)",
            "MPTCPCTL_KIND=\(job.event.kind.rawValue)",
            "MPTCPCTL_TYPE=\(job.event.type)",
            "MPTCPCTL_TIME=\(EventRecord.flatText(.number(job.event.time)) ?? "")",
            "MPTCPCTL_SEQ=\(job.event.seq)",
            "MPTCPCTL_NAMESPACE=\(namespace.name ?? "")",
            "MPTCPCTL_SOCKET=\(socketPath)",
        ]
        for (key, value) in job.event.fields.sorted(by: { $0.key < $1.key }) {
            // As `monitor` writes the value (an array as its elements separated by spaces).
            guard var text = EventRecord.flatText(value) else { continue }
            // No NUL can reach the environment; names are ours (lower-case words).
            text.unicodeScalars.removeAll { $0 == "\0" }
            env.append("MPTCPCTL_\(key.uppercased())=\(text)")
        }
        return env
    }

    private struct SpawnError: Error { var code: Int32 }

    private func spawn(_ hook: String, _ job: Job) -> Result<(pid: pid_t, output: Int32), SpawnError> {
        var fds: [Int32] = [0, 0]
        guard makePipe(&fds, nonBlocking: false) else { return .failure(SpawnError(code: errno)) }
        let (outRead, outWrite) = (fds[0], fds[1])
        _ = fcntl(outRead, F_SETFL, fcntl(outRead, F_GETFL) | O_NONBLOCK)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outWrite, 1)
        posix_spawn_file_actions_adddup2(&actions, outWrite, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGQUIT] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv = [hook, job.name]
        let env = environment(job)
        markCloseOnExec(except: outWrite)
        var pid: pid_t = 0
        let rc = withCStrings(argv) { cArgv in
            withCStrings(env) { cEnv in posix_spawn(&pid, hook, &actions, &attributes, cArgv, cEnv) }
        }
        close(outWrite)
        guard rc == 0 else {
            close(outRead)
            return .failure(SpawnError(code: rc))
        }
        logger.debug("started hook", metadata: ["hook": "\(hook)", "event": "\(job.name)", "pid": "\(pid)"])
        return .success((pid, outRead))
    }

    /// Sleeps until a wake-up, output, or the nearest deadline (100 ms at most,
    /// so exits are noticed promptly and `join` is too).
    private func waitForSomething() {
        var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        for job in jobs { if let c = job.child { fds.append(pollfd(fd: c.output, events: Int16(POLLIN), revents: 0)) } }
        var timeout: Int32 = jobs.isEmpty ? 200 : 50
        let now = ContinuousClock.now
        for job in jobs {
            guard let c = job.child else { continue }
            let left = c.deadline - now
            let ms = Int32(clamping: max(0, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            timeout = min(timeout, ms)
        }
        _ = poll(&fds, nfds_t(fds.count), timeout)
        if fds[0].revents != 0 {
            var sink = [UInt8](repeating: 0, count: 256)
            while read(wakeRead, &sink, sink.count) > 0 {}
        }
    }

    private func readOutput(_ i: Int) {
        guard var c = jobs[i].child else { return }
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = read(c.output, &buffer, buffer.count)
            guard n > 0 else { break }
            c.outputBytes += n
            if c.captured.count < Self.outputLimit { c.captured += buffer[..<min(n, Self.outputLimit - c.captured.count)] }
        }
        jobs[i].child = c
    }

    private func reap() {
        let now = ContinuousClock.now
        let timeout = settings.withLockedValue { $0.timeout }
        for i in jobs.indices {
            guard var c = jobs[i].child else { continue }
            var status: Int32 = 0
            let r = waitpid(c.pid, &status, WNOHANG)
            if r == 0 {
                if now >= c.deadline {
                    if !c.terminated {
                        logger.warning("hook timed out: terminating its process group", metadata: [
                            "hook": "\(c.hook)", "event": "\(jobs[i].name)", "timeout": "\(timeout)",
                        ])
                        hub.publish(.hookRun("timed_out", hook: c.hook, event: jobs[i].name, pid: c.pid,
                                             ["timeout": .integer(Int64(timeout))]))
                        kill(-c.pid, SIGTERM)
                        c.terminated = true
                        c.deadline = now + .seconds(1)
                    } else {
                        kill(-c.pid, SIGKILL)
                        c.deadline = now + .seconds(1)
                    }
                }
                jobs[i].child = c
                continue
            }
            // Exited (or, r < 0, already reaped: nothing more to learn).
            readOutput(i)
            c = jobs[i].child ?? c
            close(c.output)
            // Whatever the hook left running in its group goes with it.
            kill(-c.pid, SIGKILL)
            finished(jobs[i], c, status: r > 0 ? status : nil)
            jobs[i].child = nil
            startNext(i, timeout: timeout)
        }
        jobs.removeAll { $0.child == nil && $0.hooks.isEmpty }
        startJobs()
    }

    private func finished(_ job: Job, _ c: Child, status: Int32?) {
        let output = String(decoding: c.captured, as: UTF8.self).trimmingWhitespace()
        var meta: Logger.Metadata = ["hook": "\(c.hook)", "event": "\(job.name)", "pid": "\(c.pid)"]
        // The same facts, published (`hook` events never run hooks: the runner takes no `hook` kind).
        var details: [String: JSONValue] = [:]
        if !output.isEmpty { meta["output"] = "\(output)"; details["output"] = .string(output) }
        if c.outputBytes > Self.outputLimit {
            meta["output_bytes"] = "\(c.outputBytes)"
            details["output_bytes"] = .integer(Int64(c.outputBytes))
        }
        let result: String
        let type: String
        if c.terminated {
            (result, type) = ("timeout", "killed")
            logger.warning("hook killed at its timeout", metadata: meta)
        } else if let status, status & 0x7F == 0 {
            let code = (status >> 8) & 0xFF
            if code == 0 {
                (result, type) = ("ok", "ran")
                logger.debug("hook ran", metadata: meta)
            } else {
                (result, type) = ("failed", "failed")
                meta["exit_code"] = "\(code)"
                details["exit_code"] = .integer(Int64(code))
                logger.warning("hook failed", metadata: meta)
            }
        } else {
            (result, type) = ("failed", "failed")
            if let status {
                meta["signal"] = "\(status & 0x7F)"
                details["signal"] = .integer(Int64(status & 0x7F))
            }
            logger.warning("hook failed", metadata: meta)
        }
        Counter(label: "mptcpctld_hook_runs_total", dimensions: [("result", result)]).increment()
        hub.publish(.hookRun(type, hook: c.hook, event: job.name, pid: c.pid, details))
    }
}

/// Runs `body` with `strings` as a NULL-terminated C array.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// pipe(2), both ends close-on-exec (glibc's Swift module has no pipe2; only
/// this thread starts processes, and they get the ends they need by dup2).
private func makePipe(_ fds: inout [Int32], nonBlocking: Bool) -> Bool {
    guard pipe(&fds) == 0 else { return false }
    for fd in fds {
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        if nonBlocking { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }
    return true
}

/// Sets FD_CLOEXEC on every descriptor above 2 but `keep`, so a hook inherits
/// none of the daemon's sockets (libnl's and SwiftNIO's are not all made
/// close-on-exec, and glibc's posix_spawn has no portable "close the rest").
/// The daemon itself never execs anything else, so this costs it nothing.
private func markCloseOnExec(except keep: Int32) {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
    for name in names {
        guard let fd = Int32(name), fd > 2, fd != keep else { continue }
        let flags = fcntl(fd, F_GETFD)
        if flags >= 0 && flags & FD_CLOEXEC == 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
    }
}
