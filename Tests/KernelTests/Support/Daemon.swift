import Foundation
import MPTCPAPI
import MPTCPKit

/// A running `mptcpctld` in a lab namespace, with its policy file, state
/// directory and log (its stderr) in a temporary directory. `deinit` SIGKILLs
/// and reaps it, so a failing test never leaves a daemon behind (failure
/// messages carry the log; MPTCPCTL_KEEP_TEST_DIRS=1 keeps the directory).
final class Daemon: @unchecked Sendable {
    /// The signal mask the daemon starts with.
    enum SignalMask {
        /// Whatever `Process` passes on: from a test's worker thread that has
        /// SIGHUP, SIGINT and SIGTERM *blocked* (the dispatch threads block them).
        case inherited
        /// SIGHUP, SIGINT and SIGTERM explicitly blocked at exec (via a python wrapper).
        case blocked
        /// An empty mask, as systemd or a shell starts it (via a python wrapper).
        case cleared
    }

    let namespace: String
    let directory: URL
    let process = Process()
    var configPath: String { directory.appendingPathComponent("policy.toml").path }
    /// This run's stderr: `daemon.log`, or `daemon-N.log` for the Nth run in the same directory.
    let logPath: String
    var stateDirectory: String { directory.appendingPathComponent("state").path }
    var statePath: String { stateDirectory + "/endpoints-\(namespace).json" }
    /// Set when `stop()` had to escalate to SIGKILL.
    private(set) var neededKill = false
    /// Whether this instance made `directory` (and so removes it; a restart passes it on).
    private let ownsDirectory: Bool
    /// The datagram socket the daemon's `sd_notify` messages come to (its `NOTIFY_SOCKET`).
    private let notifySocket: Int32
    /// The `sd_notify` messages received so far (`READY=1`, `STATUS=…`), in order.
    private(set) var notifications: [String] = []
    /// The control socket: the policy's `socket = "…"`, or `/run/mptcpctl/mptcpctld-NAMESPACE.sock`.
    var socketPath: String {
        for line in policyText.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, parts[0] == "socket", parts[1].count > 2, parts[1].hasPrefix("\""), parts[1].hasSuffix("\"") {
                return String(parts[1].dropFirst().dropLast())
            }
        }
        return "/run/mptcpctl/mptcpctld-\(namespace).sock"
    }

    /// Writes `policy` (`@STATE@` becomes the state directory) and starts the daemon,
    /// with `-n NAMESPACE`, or (`viaIPNetnsExec`) as `ip netns exec NAMESPACE mptcpctld`
    /// without `-n`, as a unit or a script might start it, or (`launcher`, e.g.
    /// `unshare -n`) as that command's last argument, without `-n`.
    init(namespace: String, policy: String, directory: URL? = nil, signals: SignalMask = .inherited,
         logLevel: String = "debug", environment: [String: String] = [:], viaIPNetnsExec: Bool = false,
         launcher: [String] = []) throws {
        self.namespace = namespace
        ownsDirectory = directory == nil
        self.directory = directory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("mptcpctld-test-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        let base = self.directory
        let logFile = { (n: Int) in base.appendingPathComponent(n == 1 ? "daemon.log" : "daemon-\(n).log").path }
        var n = 1
        while FileManager.default.fileExists(atPath: logFile(n)) { n += 1 }
        logPath = logFile(n)
        let notifyPath = base.appendingPathComponent(n == 1 ? "notify.sock" : "notify-\(n).sock").path
        notifySocket = try Self.datagramSocket(boundTo: notifyPath)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        try write(policy: policy)
        let arguments = (viaIPNetnsExec || !launcher.isEmpty ? [] : ["-n", namespace]) + ["--config", configPath, "--log-level", logLevel]
        switch signals {
        case .inherited where !launcher.isEmpty:
            // A command that runs the daemon where it is (`unshare -n`): no -n.
            process.executableURL = URL(fileURLWithPath: launcher[0])
            process.arguments = Array(launcher.dropFirst()) + [Repository.mptcpctld] + arguments
        case .inherited where viaIPNetnsExec:
            // `ip netns exec` execs the command: the process keeps ip's pid.
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", namespace, Repository.mptcpctld] + arguments
        case .inherited:
            process.executableURL = URL(fileURLWithPath: Repository.mptcpctld)
            process.arguments = arguments
        case .blocked, .cleared:
            precondition(!viaIPNetnsExec, "a signal mask with ip netns exec is not supported")
            guard let python = Repository.python else { throw LabError("python3 is missing") }
            let how = signals == .blocked
                ? "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGHUP, signal.SIGINT, signal.SIGTERM])"
                : "signal.pthread_sigmask(signal.SIG_SETMASK, [])"
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = ["-c", "import os, signal, sys; \(how); os.execv(sys.argv[1], sys.argv[1:])",
                                 Repository.mptcpctld] + arguments
        }
        // Readiness comes as systemd would see it: `READY=1` on NOTIFY_SOCKET.
        process.environment = ProcessInfo.processInfo.environment.merging(["NOTIFY_SOCKET": notifyPath]) { _, new in new }
            .merging(environment) { _, new in new }
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Kills and reaps the daemon; removes the directory it made unless MPTCPCTL_KEEP_TEST_DIRS=1.
    deinit {
        kill()
        close(notifySocket)
        if ownsDirectory && ProcessInfo.processInfo.environment["MPTCPCTL_KEEP_TEST_DIRS"] != "1" {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    func write(policy: String) throws {
        try policy.replacingOccurrences(of: "@STATE@", with: stateDirectory)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// The policy file as written (the state directory filled in).
    var policyText: String { (try? String(contentsOfFile: configPath, encoding: .utf8)) ?? "" }

    /// Everything the daemon wrote on stderr so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The log, parsed (`LEVEL message key=value ...`).
    var logLines: [LogLine] { log.split(separator: "\n").map { LogLine(String($0)) } }

    /// The log lines whose message is exactly `message`.
    func lines(_ message: String) -> [LogLine] { logLines.filter { $0.message == message } }

    var isRunning: Bool { process.isRunning }

    /// Sends signal `number`, having read the notify socket first: its queue
    /// (about ten datagrams) is kept drained, so every `READY=1` is seen.
    func signal(_ number: Int32) {
        readNotifications()
        Glibc.kill(process.processIdentifier, number)
    }

    /// Rewrites the policy and sends SIGHUP.
    func reload(policy: String) throws {
        try write(policy: policy)
        signal(SIGHUP)
    }

    /// SIGTERM, then waits (SIGKILL after `seconds`); returns the exit status,
    /// or 128 + N when signal N ended it (so a SIGKILL never reads as success).
    @discardableResult
    func stop(seconds: Double = 10) -> Int32 {
        if process.isRunning {
            signal(SIGTERM)
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            if process.isRunning {
                neededKill = true
                signal(SIGKILL)
            }
        }
        return status()
    }

    /// Waits for the process to end (it must be ending by itself) and returns `stop()`'s status.
    func status() -> Int32 {
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// SIGKILL: no clean-up at all. Reaps the process.
    func kill() {
        guard process.isRunning else { return }
        signal(SIGKILL)
        process.waitUntilExit()
    }

    /// The namespace's endpoints, as iproute2 (a client independent of MPTCPKit) reports them.
    func endpoints() throws -> [EndpointRow] { try EndpointRow.read(namespace: namespace) }

    /// `mptcpctl plan` with this daemon's policy: true when it exits 0 (nothing to do).
    func converged() throws -> Bool {
        let result = try run(Repository.mptcpctl, ["-n", namespace, "plan", "--config", configPath], check: false)
        if result.status != 0 && result.status != 2 {
            throw LabError("mptcpctl plan failed (\(result.status)): \(result.stderr)")
        }
        return result.status == 0
    }

    /// Polls `condition` until it holds or `seconds` pass; the error carries the daemon's log.
    func waitUntil(_ what: String, seconds: Double = 10, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            readNotifications()
            if try condition() { return }
            if !process.isRunning { throw LabError("mptcpctld exited (\(status())) before \(what):\n\(log)") }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw LabError("not within \(seconds) s: \(what)\n--- endpoints ---\n\((try? endpoints().map(\.description).joined(separator: "\n")) ?? "?")\n--- mptcpctld log ---\n\(log)")
    }

    func waitConverged(seconds: Double = 10) throws {
        try waitUntil("the kernel matches the policy (mptcpctl plan exits 0)", seconds: seconds) { try converged() }
    }

    /// Waits for `READY=1` on the daemon's NOTIFY_SOCKET (as systemd would): start-up
    /// (first pass and, for the userspace path manager, adoption included) is over.
    func waitRunning(seconds: Double = 10) throws {
        try waitUntil("the daemon reports READY=1", seconds: seconds) {
            readNotifications()
            return notifications.contains { $0.split(separator: "\n").contains("READY=1") }
        }
    }

    /// Waits until the control socket answers `status`.
    func waitServing(seconds: Double = 10) throws {
        let path = socketPath
        try waitUntil("the control socket answers status", seconds: seconds) {
            (try? ControlClient(path).result("status")["pid"]) != nil
        }
    }

    /// Once the control socket answers, a subscription to the events the daemon
    /// publishes from then on (those of start-up may come before it).
    /// With `startUp`, the stream begins with what the daemon published while it
    /// started (`subscribe`'s `start_up`), before any client could subscribe.
    func subscribe(_ kinds: [EventRecord.Kind]? = nil, startUp: Bool = false, seconds: Double = 10) throws -> DaemonEvents {
        try waitServing(seconds: seconds)
        return try DaemonEvents(socketPath: socketPath, kinds: kinds, startUp: startUp)
    }

    /// Moves the datagrams queued on the notify socket into `notifications`.
    private func readNotifications() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(notifySocket, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard n > 0 else { return }
            notifications.append(String(decoding: buffer[..<n], as: UTF8.self))
        }
    }

    /// A Unix datagram socket bound to `path` (replacing a stale file).
    private static func datagramSocket(boundTo path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LabError("socket: errno \(errno)") }
        unlink(path)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw LabError("notify socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw LabError("bind \(path): errno \(errno)")
        }
        return fd
    }
}

/// One endpoint as `ip -j mptcp endpoint show` reports it.
struct EndpointRow: Hashable, CustomStringConvertible {
    var id: Int
    var address: String
    /// In a fixed order: signal, subflow, backup, fullmesh, then any others sorted.
    var flags: [String]
    var interface: String?

    /// "ADDRESS FLAGS DEV" without the id (ids may differ between equal sets).
    var withoutID: String { "\(address) \(flags.joined(separator: ",")) \(interface ?? "-")" }
    var description: String { "\(id) \(withoutID)" }

    static let knownFlags = ["signal", "subflow", "backup", "fullmesh", "implicit", "laminar"]

    static func read(namespace: String) throws -> [EndpointRow] {
        let result = try run("/usr/sbin/ip", ["-n", namespace, "-j", "mptcp", "endpoint", "show"])
        let text = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return [] }
        guard let array = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            throw LabError("ip -j mptcp endpoint show: not a JSON array: \(text)")
        }
        return try array.map { object in
            guard let id = object["id"] as? Int, let address = object["address"] as? String else {
                throw LabError("ip -j mptcp endpoint show: an entry without id or address: \(object)")
            }
            // Flags are `"NAME": true`. Skip the other keys: Foundation casts the number 1 (an id) to true.
            let set = Set(object.compactMap { key, value in
                !["id", "address", "port", "dev", "ifindex"].contains(key) && (value as? Bool) == true ? key : nil
            })
            let flags = knownFlags.filter(set.contains) + set.subtracting(knownFlags).sorted()
            return EndpointRow(id: id, address: address, flags: flags, interface: object["dev"] as? String)
        }.sorted { ($0.address, $0.id) < ($1.address, $1.id) }
    }
}

/// One line of the daemon's log: `LEVEL message key=value key="quoted \"value\""`.
struct LogLine: CustomStringConvertible {
    var level: String
    var message: String
    var fields: [String: String]
    let description: String

    subscript(key: String) -> String? { fields[key] }

    init(_ line: String) {
        description = line
        let chars = Array(line)
        let space = chars.firstIndex(of: " ") ?? chars.count
        level = String(chars[..<space])
        // The message ends where the rest parses as key=value pairs to the end.
        var start = space + 1
        while start < chars.count {
            if let fields = Self.pairs(chars, from: start), start == space + 1 || chars[start - 1] == " " {
                message = start - 1 > space ? String(chars[(space + 1)..<(start - 1)]) : ""
                self.fields = fields
                return
            }
            guard let next = chars[start...].firstIndex(of: " ") else { break }
            start = next + 1
        }
        message = space + 1 < chars.count ? String(chars[(space + 1)...]) : ""
        fields = [:]
    }

    /// `key=value` pairs from `start` to the end, or nil when the text is not only pairs.
    private static func pairs(_ c: [Character], from start: Int) -> [String: String]? {
        var out: [String: String] = [:]
        var i = start
        while i < c.count {
            var key = ""
            while i < c.count, c[i] == "_" || c[i] == "-" || c[i].isLetter || c[i].isNumber { key.append(c[i]); i += 1 }
            guard !key.isEmpty, i < c.count, c[i] == "=" else { return nil }
            i += 1
            var value = ""
            if i < c.count, c[i] == "\"" {
                i += 1
                var closed = false
                while i < c.count {
                    if c[i] == "\\", i + 1 < c.count {
                        value.append(c[i + 1] == "n" ? "\n" : c[i + 1])
                        i += 2
                    } else if c[i] == "\"" {
                        i += 1
                        closed = true
                        break
                    } else { value.append(c[i]); i += 1 }
                }
                guard closed else { return nil }
            } else {
                while i < c.count, c[i] != " " { value.append(c[i]); i += 1 }
            }
            out[key] = value
            if i < c.count {
                guard c[i] == " " else { return nil }
                i += 1
            }
        }
        return out
    }
}
