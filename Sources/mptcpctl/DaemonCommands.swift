import ArgumentParser
import MPTCPAPI
import MPTCPKit
#if canImport(Glibc)
import Glibc
#endif

/// A connection to mptcpctld's control socket: one request, one answer, in
/// order; answers wait at most 10 s.
final class DaemonConnection {
    let path: String
    private let fd: Int32
    private var pending: [UInt8] = []
    private var nextID: Int64 = 1
    /// Notifications (a subscription's events) read while waiting for an answer.
    private var notifications: [(method: String, params: JSONValue)] = []

    /// The daemon on `path` when one answers; nil when none runs (no socket file,
    /// or nobody accepting on it). Other failures (permission) throw.
    static func ifRunning(_ path: String) throws -> DaemonConnection? {
        do { return try DaemonConnection(path: path) } catch let error as DaemonUnavailable where !error.denied {
            return nil
        }
    }

    /// Connects to `path`; a missing or unserved socket says the daemon is not running.
    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CommandFailure("cannot create a socket: \(String(cString: strerror(errno)))", code: .system) }
        guard let address = UnixSocketAddress(path: path) else {
            close(fd)
            throw CommandFailure("\(path) is longer than a Unix socket path may be (107 bytes): give a shorter --socket", code: .system)
        }
        let code = address.connect(fd)
        guard code == 0 else {
            close(fd)
            switch code {
            case ENOENT, ECONNREFUSED:
                throw DaemonUnavailable(message: "no mptcpctld answers on \(path): is it running? (--socket sets another path)")
            case EACCES:
                throw DaemonUnavailable(message: "\(path): permission denied (the socket is for root and [daemon] socket_group)",
                                        denied: true)
            default:
                throw DaemonUnavailable(message: "cannot connect to \(path): \(String(cString: strerror(code)))")
            }
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// An answer: the daemon's JSON as it came (printed by `--json`), and the
    /// typed record read from it.
    struct Answer<Record: ControlRecord> {
        var json: JSONValue
        var record: Record
    }

    /// Calls `method` and returns the daemon's answer (an API error is a
    /// `.failure`); a transport failure, or a result not of the method's shape, throws.
    func call<M: ControlMethod>(_ method: M.Type, _ params: M.Params) throws -> Result<Answer<M.Result>, RPCError> {
        switch try exchange(M.request(id: .integer(nextID), params)) {
        case .success(let json): return .success(Answer(json: json, record: try M.Result(json: json)))
        case .failure(let error): return .failure(error)
        }
    }

    /// Sends `request` (whose id is `nextID`) and waits for its answer.
    private func exchange(_ request: RPCRequest) throws -> Result<JSONValue, RPCError> {
        let id = JSONValue.integer(nextID)
        nextID += 1
        var out = RPCWire.encode(request)[...]
        while !out.isEmpty {
            let n = out.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw DaemonUnavailable(message: "\(path): the daemon closed the connection") }
            out = out.dropFirst(n)
        }
        while true {
            switch try RPCWire.decodeMessage(readLine(waiting: "an answer to \(request.method)")) {
            case .response(let answerID, let outcome) where answerID == id: return outcome
            case .response: continue
            case .notification(let m, let params): notifications.append((m, params))
            }
        }
    }

    /// The next notification of a subscription, waiting as long as it takes.
    func nextNotification() throws -> (method: String, params: JSONValue) {
        if !notifications.isEmpty { return notifications.removeFirst() }
        var none = timeval(tv_sec: 0, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, socklen_t(MemoryLayout<timeval>.size))
        while true {
            if case .notification(let m, let params) = try RPCWire.decodeMessage(readLine(waiting: "events")) { return (m, params) }
        }
    }

    private func readLine(waiting what: String) throws -> [UInt8] {
        while true {
            if let newline = pending.firstIndex(of: 0x0A) {
                let line = Array(pending[..<newline])
                pending.removeFirst(newline + 1)
                return line
            }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                throw DaemonUnavailable(message: "\(path): no \(what) within 10 s")
            }
            guard n > 0 else { throw DaemonUnavailable(message: "\(path): the daemon closed the connection") }
            pending += buffer[..<n]
        }
    }

    /// `call`, with an API error turned into a one-line failure (a bad parameter
    /// is a usage error, as the same mistake made directly would be).
    func result<M: ControlMethod>(_ method: M.Type, _ params: M.Params) throws -> Answer<M.Result> {
        switch try call(method, params) {
        case .success(let answer): return answer
        // Named after the command the user typed, not the API method (`subflow create: …`).
        case .failure(let e) where e.name == "invalid_params": throw UsageError(e.message)
        case .failure(let e): throw CommandFailure("\(M.name): \(e.message) (\(e.name))", code: .daemon, daemonError: e.name)
        }
    }

    /// `result` of a method that takes no parameters.
    func result<M: ControlMethod>(_ method: M.Type) throws -> Answer<M.Result> where M.Params == NoParams {
        try result(method, NoParams())
    }

    /// Runs `method` through the daemon when one answers (its table and policy
    /// stay authoritative: a subflow made this way is left alone by its policy);
    /// else `direct`, against the kernel, saying so on standard error.
    static func route<M: ControlMethod>(_ global: GlobalOptions, _ method: M.Type, _ params: () throws -> M.Params,
                                        direct: () throws -> Void) throws {
        let path = try global.socketPath
        if let daemon = try ifRunning(path) {
            _ = try daemon.result(method, try params())
        } else {
            Output.note("no mptcpctld answers on \(path); asking the kernel directly")
            try direct()
        }
    }
}

/// The daemon cannot be reached (exit 1).
struct DaemonUnavailable: Error {
    var message: String
    /// It may run, but this user may not connect.
    var denied = false
}

/// A command that ran and failed (exit 1), as opposed to a usage error (64).
struct CommandFailure: Error {
    var message: String
    var code: FailureCode
    /// The daemon's API error name, when the daemon refused.
    var daemonError: String?
    init(_ message: String, code: FailureCode = .failure, daemonError: String? = nil) {
        self.message = message
        self.code = code
        self.daemonError = daemonError
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the running mptcpctld: version, uptime, path manager, policy file, counts."
    )

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let answer = try DaemonConnection(path: try global.socketPath).result(ControlMethods.Status.self)
        if global.json {
            Output.line(RPCWire.text(answer.json))
            return
        }
        let s = answer.record
        let rows = [
            ("daemon", "mptcpctld \(s.version) (API \(s.apiVersion)), pid \(s.pid), up \(duration(s.uptimeSeconds))"),
            ("namespace", s.namespace),
            ("path manager", (s.pathManager ?? "-")
                + (s.userspacePathManager ? " (managing \(s.connections.map { String($0) } ?? "-") connections)" : "")),
            ("scheduler", s.scheduler ?? "-"),
            ("policy", "\(s.config), loaded \(s.configLoadedAt), reloaded \(s.reloads) time(s)"),
            ("owned endpoints", String(s.ownedEndpoints)),
        ] + (s.paths.map { p in
            [("paths", "\(p.up) up, \(p.degraded) degraded, \(p.down) down, \(p.unknown) unknown (mptcpctl paths)")]
        } ?? [])
        for (label, value) in rows + (s.routing.map(routingRows) ?? []) {
            Output.line(label + ":" + String(repeating: " ", count: max(1, 17 - label.count)) + value)
        }
    }

    /// `routing:`, then one line per owned table, rule and route, rp_filter value and note.
    private func routingRows(_ r: RoutingStatusRecord) -> [(String, String)] {
        var rows = [("routing", r.mode == "on" ? "owned by mptcpctld (mode = on)" : "left to the administrator (mode = off)")]
        for (name, table) in r.tables.sorted(by: { $0.key < $1.key }) { rows.append(("  table", "\(table) (\(name))")) }
        for rule in r.rules {
            let lookup = rule.table == 254 ? "main" : "\(rule.table)", suppress = rule.suppressPrefixLength.map { " suppress_prefixlength \($0)" } ?? ""
            rows.append(("  rule", "from \(rule.source) lookup \(lookup)\(suppress) priority \(rule.priority)" + (rule.interface.map { " (\($0))" } ?? "")))
        }
        for route in r.routes {
            let words = [route.destination] + (route.gateway.map { ["via", $0] } ?? []) + (route.interface.map { ["dev", $0] } ?? [])
                + (route.onLink ? ["onlink"] : []) + (route.source.map { ["src", $0] } ?? []) + ["table", String(route.table)]
            rows.append(("  route", words.joined(separator: " ")))
        }
        for (name, found) in r.reversePathFilter.sorted(by: { $0.key < $1.key }) {
            rows.append(("  rp_filter", "\(name): set loose, was \(found) (restored on exit)"))
        }
        for note in r.notes { rows.append(("  note", note)) }
        return rows
    }

    private func duration(_ seconds: Double) -> String {
        let s = Int(seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(s % 60)s" }
        if s < 86400 { return "\(s / 3600)h\(s % 3600 / 60)m" }
        return "\(s / 86400)d\(s % 86400 / 3600)h"
    }
}

struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Have mptcpctld re-read its policy file: exit 0 when valid (it is applied), 1 with every problem listed."
    )

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let daemon = try DaemonConnection(path: try global.socketPath)
        switch try daemon.call(ControlMethods.PolicyReload.self, NoParams()) {
        case .success(let answer):
            if global.json { Output.line(RPCWire.text(answer.json)) } else {
                let changes = answer.record.changes
                Output.line("reloading \(answer.record.config): "
                            + (changes.isEmpty ? "no changes" : "\(changes.count) change\(changes.count == 1 ? "" : "s")"))
                for c in changes {
                    func show(_ v: JSONValue?) -> String { v.map(RPCWire.text) ?? "(none)" }
                    Output.line("  \(c.key): \(show(c.old)) -> \(show(c.new))")
                }
            }
        case .failure(let e) where e.name == "invalid_policy":
            let problems = e.message.split(separator: "\n").map(String.init)
            // With --json the problems travel in the one error object; else one line each, as `check` prints them.
            if !global.json { for line in problems { Output.error(line) } }
            throw CommandFailure("the policy file is invalid: the daemon keeps the policy it runs"
                                 + (global.json ? ": " + problems.joined(separator: "; ") : ""),
                                 code: .invalidPolicy, daemonError: e.name)
        case .failure(let e):
            throw CommandFailure("reload: \(e.message) (\(e.name))", code: .daemon, daemonError: e.name)
        }
    }
}


struct DispatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatch",
        abstract: "For dispatcher hooks: tell mptcpctld that IFACE changed (ACTION as NetworkManager names it) so it re-examines it now.",
        discussion: """
            Acts on up, down, dhcp4-change, dhcp6-change, connectivity-change and reapply; other actions are ignored \
            (exit 0). An empty IFACE means every interface. Exit 0 also when no daemon runs (a note on stderr): \
            there is nothing to re-examine then.
            """
    )

    static let actions: Set<String> = ["up", "down", "dhcp4-change", "dhcp6-change", "connectivity-change", "reapply"]

    @Argument(help: ArgumentHelp("The interface (empty: every interface).", valueName: "IFACE"))
    var interface: String

    @Argument(help: ArgumentHelp("What happened: up, down, dhcp4-change, dhcp6-change, connectivity-change, ...", valueName: "ACTION"))
    var action: String

    @OptionGroup var global: GlobalOptions

    func run() throws {
        // With --json, every outcome that is not a failure is one object on stdout:
        // {"interface", "action", "notified", "result"?, "reason"?}; a failure prints nothing there.
        var outcome: [String: JSONValue] = ["interface": .string(interface), "action": .string(action), "notified": false]
        func show() { if global.json { Output.line(RPCWire.text(.object(outcome))) } }
        guard Self.actions.contains(action) else {
            outcome["reason"] = "the action is not one mptcpctld acts on"
            return show()
        }
        let daemon: DaemonConnection
        // Permission denied is a failure (exit 1): a daemon runs that should have been told.
        do { daemon = try DaemonConnection(path: try global.socketPath) } catch let error as DaemonUnavailable where !error.denied {
            Output.note("dispatch \(interface.isEmpty ? "(all)" : interface) \(action): \(error.message); nothing to do")
            outcome["reason"] = .string(error.message)
            return show()
        }
        let params = InterfaceNotifyParams(interface: interface.isEmpty ? nil : interface, action: action)
        let answer = try daemon.result(ControlMethods.InterfaceNotify.self, params)
        outcome["notified"] = true
        outcome["result"] = answer.json
        show()
    }
}

struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Print mptcpctld's metrics in the Prometheus text format (for node_exporter's textfile collector)."
    )

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let text = try DaemonConnection(path: try global.socketPath).result(ControlMethods.Metrics.self).record.text
        if global.json {
            // Families with their HELP, TYPE and samples, as a dashboard script wants them, not the text.
            let families: [PrometheusText.Family]
            do { families = try PrometheusText.parse(text) } catch {
                throw CommandFailure("metrics: the daemon's text is not Prometheus exposition format: \(error)")
            }
            Output.line(RPCWire.text(["families": PrometheusText.json(families)]))
        } else {
            var body = text
            if body.hasSuffix("\n") { body.removeLast() }
            if !body.isEmpty { Output.line(body) }
        }
    }
}
