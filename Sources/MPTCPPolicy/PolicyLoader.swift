import MPTCPKit
import TOMLKit

/// One problem in a policy file: `FILE:LINE: KEY: message`.
public struct PolicyDiagnostic: Hashable, Sendable, CustomStringConvertible {
    /// 1-based line, when the key could be located.
    public var line: Int?
    /// `kernel.limits.subflows`, `interface[2].role`; empty for the whole file.
    public var key: String
    public var message: String

    public init(line: Int?, key: String, message: String) {
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        (line.map { "\($0): " } ?? "") + (key.isEmpty ? "" : key + ": ") + message
    }

    /// `FILE:LINE: KEY: message`.
    /// `FILE:LINE: KEY: message`, or `FILE: KEY: message` when the line is unknown.
    public func formatted(file: String) -> String { file + (line == nil ? ": " : ":") + description }
}

/// A policy file that failed validation: every problem, in file order.
public struct PolicyError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var diagnostics: [PolicyDiagnostic]

    public var description: String {
        diagnostics.map { $0.formatted(file: file) }.joined(separator: "\n")
    }
}

/// What the running kernel offers, for the checks that depend on it.
public struct KernelOffer: Hashable, Sendable {
    public var pathManagers: [String]
    public var schedulers: [String]

    public init(pathManagers: [String], schedulers: [String]) {
        self.pathManagers = pathManagers
        self.schedulers = schedulers
    }
}

/// What the system the daemon runs on would refuse in a policy (groups that do
/// not exist, directories it cannot use, addresses it cannot listen on). The
/// daemon supplies it, so the loader stays free of I/O and `check`, start-up
/// and reload refuse exactly the same files.
public protocol PolicyEnvironment {
    /// Every problem the system has with `policy`, each with its key
    /// (`daemon.socket_group`); the loader adds the lines.
    func problems(_ policy: Policy) -> [PolicyDiagnostic]
}

/// A valid policy and what is worth saying about it without refusing it.
public struct CheckedPolicy: Sendable {
    public var policy: Policy
    /// Parts of the file that are valid but have no effect, in file order.
    public var warnings: [PolicyDiagnostic]
}

/// Parses and validates `mptcpctld.toml`. Pure: text in, policy or every
/// problem out.
///
/// Empty files: a file with no key at all (empty, only blank lines, only
/// comments, `/dev/null`) is a valid policy with every default, like any
/// file that leaves keys out.
public enum PolicyLoader {
    /// Decodes `text`; `offer`, when given, also checks the scheduler and the
    /// path manager against what the kernel offers.
    public static func load(_ text: String, file: String, offer: KernelOffer? = nil) throws(PolicyError) -> Policy {
        try check(text, file: file, offer: offer).policy
    }

    /// Decodes the file's bytes: as `check(_:file:offer:environment:)`, after
    /// refusing bytes that are not UTF-8. No bytes at all is the empty file.
    public static func check(bytes: [UInt8], file: String, offer: KernelOffer? = nil,
                             environment: PolicyEnvironment? = nil) throws(PolicyError) -> CheckedPolicy {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            // The line of the first byte that breaks UTF-8.
            var line = 1
            var parser = Unicode.UTF8.ForwardParser()
            var input = bytes.makeIterator()
            scan: while true {
                switch parser.parseScalar(from: &input) {
                case .valid(let scalar): if scalar.count == 1 && scalar.first == 0x0A { line += 1 }
                case .emptyInput, .error: break scan
                }
            }
            throw PolicyError(file: file, diagnostics: [PolicyDiagnostic(line: line, key: "", message: "not UTF-8 text")])
        }
        return try check(text, file: file, offer: offer, environment: environment)
    }

    /// Decodes and validates `text`, then asks `environment` (when given) what
    /// the system would refuse; returns the policy with its warnings, or every
    /// problem.
    public static func check(_ text: String, file: String, offer: KernelOffer? = nil,
                             environment: PolicyEnvironment? = nil) throws(PolicyError) -> CheckedPolicy {
        // TOML allows no control character but tab and the line ends, and no
        // non-ASCII character outside strings and comments; toml++ asserts on
        // some of them (found by fuzzing: a table name starting with U+0001, or
        // with U+FFFD, aborted the process), so they are refused before it sees them.
        if let bad = forbiddenCharacter(in: text) {
            throw PolicyError(file: file, diagnostics: [
                PolicyDiagnostic(line: bad.line, key: "", message: "TOML syntax: \(bad.message) (column \(bad.column))"),
            ])
        }
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw PolicyError(file: file, diagnostics: [
                PolicyDiagnostic(line: error.source.begin.line, key: "",
                                 message: "TOML syntax: \(error.description) (column \(error.source.begin.column))"),
            ])
        } catch {
            throw PolicyError(file: file, diagnostics: [PolicyDiagnostic(line: nil, key: "", message: "TOML syntax: \(error)")])
        }
        let lines = KeyLines(text)
        var reader = Reader(lines: lines)
        let policy = reader.policy(root, offer: offer)
        for problem in environment?.problems(policy) ?? [] {
            reader.diagnostics.append(PolicyDiagnostic(line: problem.line ?? lines[problem.key], key: problem.key, message: problem.message))
        }
        guard reader.diagnostics.isEmpty else { throw PolicyError(file: file, diagnostics: inFileOrder(reader.diagnostics)) }
        return CheckedPolicy(policy: policy, warnings: inFileOrder(warnings(policy, lines: lines)))
    }

    /// What a valid policy says that has no effect.
    static func warnings(_ policy: Policy, lines: KeyLines) -> [PolicyDiagnostic] {
        var warnings: [PolicyDiagnostic] = []
        if !policy.connections.isEmpty && policy.kernel.pathManager != "userspace" {
            let pm = policy.kernel.pathManager.map { "path_manager = \"\($0)\"" } ?? "path_manager left at keep"
            let n = policy.connections.count
            warnings.append(PolicyDiagnostic(
                line: lines["connection[1]"], key: "connection[1]",
                message: "\(n == 1 ? "this [[connection]] block is" : "these \(n) [[connection]] blocks are") ignored with \(pm): "
                    + "[[connection]] blocks apply only when the daemon is the path manager (kernel.path_manager = \"userspace\")"))
        }
        if policy.kernel.pathManager != "userspace" {
            // The in-kernel path manager announces on the endpoint's own port and
            // opens no listener: the daemon's listeners are the userspace one's.
            let pm = policy.kernel.pathManager.map { "path_manager = \"\($0)\"" } ?? "path_manager left at keep"
            for rule in policy.interfaces where rule.announcePort != nil {
                let key = "interface[\(rule.position)].announce_port"
                warnings.append(PolicyDiagnostic(
                    line: lines[key], key: key,
                    message: "ignored with \(pm): announce_port applies only when the daemon is the path manager (kernel.path_manager = \"userspace\")"))
            }
        }
        return warnings
    }

    private static func inFileOrder(_ diagnostics: [PolicyDiagnostic]) -> [PolicyDiagnostic] {
        diagnostics.enumerated().sorted { a, b in
            (a.element.line ?? Int.max, a.offset) < (b.element.line ?? Int.max, b.offset)
        }.map(\.element)
    }
}

/// The first thing in `text` that toml++ (inside TOMLKit) must not see, with
/// its line and column (from 1). toml++'s debug builds `assert()` on some
/// malformed input, aborting the process (its release builds assume instead:
/// undefined behaviour), so these are refused before it parses:
/// - a control character TOML forbids anywhere (U+0000-U+0008, U+000B, U+000C,
///   U+000E-U+001F, U+007F);
/// - a non-ASCII character outside strings and comments (TOML 1.0's bare keys
///   are ASCII; toml++ also takes U+2028, U+2029 and U+0085 for separators);
/// - a table header whose name starts with anything but a key (`[#x]`, `[.]`);
/// - a `}` right after `[` or `,` (`x = ["a", }`);
/// - in a value, a date followed by `T` and no hour (`1979-05-27T:`), or a
///   token followed by a space and a digit that is not a date and a time
///   (`1979-05-27 1`).
/// Each was found by fuzzing or by reading toml++'s parser; valid TOML 1.0 has
/// none of them. Strings are followed the way toml++ reads them: a multi-line
/// string ends at a run of three to five quotes, the extra ones its content.
func forbiddenCharacter(in text: String) -> (line: Int, column: Int, message: String)? {
    func hex(_ v: UInt32) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
    func isDigit(_ v: UInt32) -> Bool { (0x30...0x39).contains(v) }
    /// What ends a value token for toml++: blanks, line breaks, `,`, `]`, `}`, `#`.
    func endsValue(_ v: UInt32) -> Bool {
        v == 0x20 || v == 0x09 || v == 0x0D || v == 0x0A || v == 0x2C || v == 0x5D || v == 0x7D || v == 0x23
    }
    func isKeyStart(_ v: UInt32) -> Bool {
        (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v) || isDigit(v)
            || v == 0x5F || v == 0x2D || v == 0x22 || v == 0x27 || v == 0x5D
    }
    enum State { case code, comment, basic, literal, multilineBasic, multilineLiteral }
    var state = State.code
    var line = 1
    var column = 0
    let scalars = text.unicodeScalars.map(\.value)
    var i = 0
    func at(_ k: Int) -> UInt32 { k < scalars.count ? scalars[k] : 0 }
    func starts(_ quotes: UInt32) -> Bool { at(i) == quotes && at(i + 1) == quotes && at(i + 2) == quotes }
    // Nothing but blanks on this line so far.
    var lineStart = true
    // The last character of code, outside blanks, line breaks, comments and strings.
    var lastCode: UInt32 = 0
    // The arrays (`[`) and inline tables (`{`) open here, innermost last.
    var open: [UInt32] = []
    // Opening brackets of a table header still to pass (they open no array).
    var headerBrackets = 0
    while i < scalars.count {
        let v = scalars[i]
        column += 1
        if v == 0x0A {
            line += 1
            column = 0
            lineStart = true
            if state == .comment || state == .basic || state == .literal { state = .code }
            i += 1
            continue
        }
        if state == .code && lineStart && v == 0x5B && open.isEmpty {
            // A table header: toml++ asserts unless its first key starts like a key.
            var j = i + 1
            if at(j) == 0x5B { j += 1 }
            headerBrackets = j - i
            while at(j) == 0x20 || at(j) == 0x09 { j += 1 }
            if j >= scalars.count || !isKeyStart(scalars[j]) {
                let what = j >= scalars.count || scalars[j] == 0x0A || scalars[j] == 0x0D
                    ? "a table header without a name" : "a table name starting with \(hex(scalars[j]))"
                return (line, column + (j - i), what + " is not allowed")
            }
        }
        if v != 0x20 && v != 0x09 { lineStart = false }
        if (v < 0x20 && v != 0x09 && v != 0x0D) || v == 0x7F {
            return (line, column, "control character \(hex(v)) is not allowed")
        }
        switch state {
        case .code:
            if v > 0x7F { return (line, column, "non-ASCII character \(hex(v)) is not allowed outside a string or comment") }
            let inValue = lastCode == 0x3D || (open.last == 0x5B && (lastCode == 0x5B || lastCode == 0x2C))
            if inValue && isDigit(v) {
                var j = i
                while j < scalars.count && !endsValue(scalars[j]) { j += 1 }
                let token = scalars[i..<j]
                let date = token.count >= 10 && (0..<10).allSatisfy { k in
                    k == 4 || k == 7 ? token[i + k] == 0x2D : isDigit(token[i + k])
                }
                if date && token.count >= 11 && (at(i + 10) == 0x54 || at(i + 10) == 0x74) && (token.count == 11 || !isDigit(at(i + 11))) {
                    return (line, column, "a date and 'T' must be followed by the hour")
                }
                if at(j) == 0x20 && isDigit(at(j + 1)) && !(date && token.count == 10 && isDigit(at(j + 2)) && at(j + 3) == 0x3A) {
                    return (line, column, "a value followed by a space and a digit must be a date and a time")
                }
            }
            if v == 0x7D && (lastCode == 0x5B || lastCode == 0x2C) {
                return (line, column, "'}' cannot follow '\(lastCode == 0x5B ? "[" : ",")'")
            }
            if v == 0x5B && headerBrackets > 0 {
                headerBrackets -= 1
            } else if v == 0x5B || v == 0x7B {
                open.append(v)
            } else if (v == 0x5D || v == 0x7D) && !open.isEmpty {
                open.removeLast()
            }
            if v != 0x20 && v != 0x09 && v != 0x0D && v != 0x23 { lastCode = v }
            if v == 0x23 {
                state = .comment
            } else if starts(0x22) {
                state = .multilineBasic; i += 3; column += 2; continue
            } else if starts(0x27) {
                state = .multilineLiteral; i += 3; column += 2; continue
            } else if v == 0x22 {
                state = .basic
            } else if v == 0x27 {
                state = .literal
            }
        case .comment: break
        case .basic, .multilineBasic:
            if v == 0x5C { i += 2; column += 1; continue }  // an escape: skip what it escapes
            if state == .basic && v == 0x22 { state = .code }
            if state == .multilineBasic && starts(0x22) {
                let run = min(5, scalars[i...].prefix { $0 == 0x22 }.count)
                state = .code; i += run; column += run - 1; continue
            }
        case .literal:
            if v == 0x27 { state = .code }
        case .multilineLiteral:
            if starts(0x27) {
                let run = min(5, scalars[i...].prefix { $0 == 0x27 }.count)
                state = .code; i += run; column += run - 1; continue
            }
        }
        i += 1
    }
    return nil
}

/// Walks the TOML tree, building the policy and collecting problems with
/// their key paths and lines (TOMLKit's Decodable errors say "key not found"
/// for a wrong type, so the tree is read by hand).
private struct Reader {
    let lines: KeyLines
    var diagnostics: [PolicyDiagnostic] = []

    init(lines: KeyLines) { self.lines = lines }

    mutating func fail(_ key: String, _ message: String) {
        diagnostics.append(PolicyDiagnostic(line: lines[key], key: key, message: message))
    }

    mutating func policy(_ root: TOMLTable, offer: KernelOffer?) -> Policy {
        var policy = Policy()
        known(root, ["daemon", "kernel", "interface", "connection", "hooks", "metrics"], at: "")
        if let daemon = table(root, "daemon", at: "") { policy.daemon = self.daemon(daemon) }
        if let hooks = table(root, "hooks", at: "") { policy.hooks = self.hooks(hooks) }
        if let metrics = table(root, "metrics", at: "") { policy.metrics = self.metrics(metrics) }
        if let kernel = table(root, "kernel", at: "") { policy.kernel = self.kernel(kernel, offer: offer) }
        if let value = root["interface"] {
            if let blocks = value.array {
                for (i, element) in blocks.enumerated() {
                    let path = "interface[\(i + 1)]"
                    guard let block = element.table else {
                        fail(path, "expected a table ([[interface]]), found \(kind(element))")
                        continue
                    }
                    if let rule = interface(block, at: path, position: i + 1) { policy.interfaces.append(rule) }
                }
            } else {
                fail("interface", "expected an array of tables ([[interface]] blocks), found \(kind(value))")
            }
        }
        if let value = root["connection"] {
            if let blocks = value.array {
                var names: Set<String> = []
                for (i, element) in blocks.enumerated() {
                    let path = "connection[\(i + 1)]"
                    guard let block = element.table else {
                        fail(path, "expected a table ([[connection]]), found \(kind(element))")
                        continue
                    }
                    if let c = connection(block, at: path, position: i + 1) {
                        if !names.insert(c.name).inserted { fail(path + ".name", "\"\(c.name)\" names an earlier block too") }
                        policy.connections.append(c)
                    }
                }
            } else {
                fail("connection", "expected an array of tables ([[connection]] blocks), found \(kind(value))")
            }
        }
        return policy
    }

    mutating func connection(_ t: TOMLTable, at path: String, position: Int) -> ConnectionPolicy? {
        known(t, ["name", "match", "strategy", "mode", "max_subflows", "ndiffports", "retry", "failback_hold"], at: path)
        var ok = true
        guard let name = string(t, "name", at: path) else {
            if t["name"] == nil { fail(path, "missing key \"name\"") }
            return nil
        }
        var c = ConnectionPolicy(name: name)
        c.position = position
        if name.isEmpty { fail(path + ".name", "must not be empty"); ok = false }
        if let m = table(t, "match", at: path) {
            let mp = path + ".match"
            known(m, ["side", "remote", "remote_port", "local_port", "interface"], at: mp)
            if let side: ConnectionMatch.Side = choice(m, "side", at: mp) { c.match.side = side }
            for text in strings(m, "remote", at: mp) {
                if let prefix = IPPrefix(text) { c.match.remote.append(prefix) } else {
                    fail(mp + ".remote", "\"\(text)\" is not an address or prefix (10.0.0.0/8, 2001:db8::/32)"); ok = false
                }
            }
            c.match.remotePorts = ports(m, "remote_port", at: mp, ok: &ok)
            c.match.localPorts = ports(m, "local_port", at: mp, ok: &ok)
            for text in strings(m, "interface", at: mp) {
                do { c.match.interfaces.append(try Glob(text)) } catch {
                    fail(mp + ".interface", "bad pattern: \(error.message)"); ok = false
                }
            }
        }
        if let v: Strategy = choice(t, "strategy", at: path) { c.strategy = v }
        if let v: SteeringMode = choice(t, "mode", at: path) { c.mode = v }
        if let v = int(t, "max_subflows", at: path) {
            if (0...64).contains(v) { c.maxSubflows = v } else { fail(path + ".max_subflows", "must be 0 to 64, not \(v)"); ok = false }
        }
        if let v = int(t, "ndiffports", at: path) {
            if !(1...16).contains(v) { fail(path + ".ndiffports", "must be 1 to 16, not \(v)"); ok = false }
            else if c.strategy != .ndiffports { fail(path + ".ndiffports", "is only used with strategy = \"ndiffports\""); ok = false }
            else { c.ndiffports = v }
        }
        if let r = table(t, "retry", at: path) {
            let rp = path + ".retry"
            known(r, ["initial", "max", "attempts", "join_timeout"], at: rp)
            if let v = duration(r, "initial", at: rp) { c.retry.initialMilliseconds = max(1, v) }
            if let v = duration(r, "max", at: rp) { c.retry.maximumMilliseconds = v }
            if let v = int(r, "attempts", at: rp) {
                if (0...1000).contains(v) { c.retry.attempts = v } else { fail(rp + ".attempts", "must be 0 to 1000, not \(v)"); ok = false }
            }
            if let v = duration(r, "join_timeout", at: rp) {
                if RetryPolicy.joinTimeoutRange.contains(v) { c.retry.joinTimeoutMilliseconds = v } else {
                    fail(rp + ".join_timeout", "must be 1s to 10m, not \(v) ms"); ok = false
                }
            }
            if c.retry.initialMilliseconds > c.retry.maximumMilliseconds {
                fail(rp, "initial (\(c.retry.initialMilliseconds) ms) is longer than max (\(c.retry.maximumMilliseconds) ms)"); ok = false
            }
        }
        if let v = duration(t, "failback_hold", at: path) { c.failbackHoldMilliseconds = v }
        return ok ? c : nil
    }

    /// A string or an array of strings.
    mutating func strings(_ t: TOMLTable, _ key: String, at path: String) -> [String] {
        guard let value = t[key] else { return [] }
        if let s = value.string { return [s] }
        if let array = value.array {
            var out: [String] = []
            for (i, e) in array.enumerated() {
                if let s = e.string { out.append(s) } else { fail(join(path, key), "element \(i + 1): expected a string, found \(kind(e))") }
            }
            return out
        }
        fail(join(path, key), "expected a string or an array of strings, found \(kind(value))")
        return []
    }

    /// A port or an array of ports, 1-65535.
    mutating func ports(_ t: TOMLTable, _ key: String, at path: String, ok: inout Bool) -> [UInt16] {
        guard let value = t[key] else { return [] }
        let elements: [TOMLValueConvertible]
        if value.type == .int { elements = [value] } else if let array = value.array { elements = Array(array) } else {
            fail(join(path, key), "expected a port or an array of ports, found \(kind(value))"); ok = false
            return []
        }
        var out: [UInt16] = []
        for e in elements {
            if e.type == .int, let n = e.int, (1...65535).contains(n) { out.append(UInt16(n)) } else {
                fail(join(path, key), "\(describe(e)) is not a port (1-65535)"); ok = false
            }
        }
        return out
    }

    /// `"200ms"`, `"3s"`, `"2m"`.
    mutating func duration(_ t: TOMLTable, _ key: String, at path: String) -> Int? {
        guard let s = string(t, key, at: path) else { return nil }
        if let ms = parseDuration(s) { return ms }
        fail(join(path, key), "\"\(s)\" is not a duration (\"200ms\", \"3s\", \"1.5s\", \"2m\")")
        return nil
    }

    mutating func daemon(_ t: TOMLTable) -> DaemonSettings {
        var d = DaemonSettings()
        known(t, ["socket", "socket_group", "admin_group", "state_directory", "log_level", "resync_interval", "event_buffer"],
              at: "daemon")
        if let v = string(t, "socket", at: "daemon") {
            if !v.hasPrefix("/") {
                fail("daemon.socket", "must be an absolute path, not \"\(v)\"")
            } else if v.utf8.count > 107 {
                fail("daemon.socket", "is \(v.utf8.count) bytes long; a Unix socket path is at most 107")
            } else {
                d.socket = v
            }
        }
        for key in ["socket_group", "admin_group"] {
            guard let v = string(t, key, at: "daemon") else { continue }
            // A group name as useradd accepts it (resolved when the daemon starts).
            let valid = !v.isEmpty && v.count <= 32 && v.first != "-"
                && v.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) }
            if !valid { fail("daemon.\(key)", "\"\(v)\" is not a group name") }
            else if key == "socket_group" { d.socketGroup = v } else { d.adminGroup = v }
        }
        if let v = string(t, "state_directory", at: "daemon") {
            if v.hasPrefix("/") { d.stateDirectory = v } else { fail("daemon.state_directory", "must be an absolute path, not \"\(v)\"") }
        }
        if let v: LogLevel = choice(t, "log_level", at: "daemon") { d.logLevel = v }
        if let v = int(t, "resync_interval", at: "daemon") {
            if v >= 0 && v <= 86_400 { d.resyncInterval = v } else {
                fail("daemon.resync_interval", "must be 0 (off) to 86400 seconds, not \(v)")
            }
        }
        if let v = int(t, "event_buffer", at: "daemon") {
            if v >= 4096 && v <= 1 << 30 { d.eventBuffer = v } else {
                fail("daemon.event_buffer", "must be 4096 to 1073741824 bytes, not \(v)")
            }
        }
        return d
    }

    mutating func hooks(_ t: TOMLTable) -> HookSettings {
        var h = HookSettings()
        known(t, ["directory", "timeout", "max_concurrent"], at: "hooks")
        if let v = string(t, "directory", at: "hooks") {
            if v.hasPrefix("/") { h.directory = v } else { fail("hooks.directory", "must be an absolute path, not \"\(v)\"") }
        }
        if let v = int(t, "timeout", at: "hooks") {
            if (1...3600).contains(v) { h.timeout = v } else { fail("hooks.timeout", "must be 1 to 3600 seconds, not \(v)") }
        }
        if let v = int(t, "max_concurrent", at: "hooks") {
            if (1...64).contains(v) { h.maxConcurrent = v } else { fail("hooks.max_concurrent", "must be 1 to 64, not \(v)") }
        }
        return h
    }

    mutating func metrics(_ t: TOMLTable) -> MetricsSettings {
        var m = MetricsSettings()
        known(t, ["listen"], at: "metrics")
        if let v = string(t, "listen", at: "metrics") {
            if MetricsListen(v) != nil { m.listen = v } else {
                fail("metrics.listen", "\"\(v)\" is not HOST:PORT with an IP address and a port 1-65535 (IPv6 as [::1]:9464)")
            }
        }
        return m
    }

    mutating func kernel(_ t: TOMLTable, offer: KernelOffer?) -> KernelSettings {
        var k = KernelSettings()
        known(t, ["path_manager", "scheduler", "limits", "on_exit"], at: "kernel")
        if let v = string(t, "path_manager", at: "kernel"), v != "keep" {
            let offered = offer?.pathManagers ?? ["kernel", "userspace"]
            if offered.contains(v) { k.pathManager = v } else {
                fail("kernel.path_manager", "\"\(v)\" is not offered by the kernel; use one of: keep, \(offered.joined(separator: ", "))")
            }
        }
        if let v = string(t, "scheduler", at: "kernel"), v != "keep" {
            if let offered = offer?.schedulers, !offered.contains(v) {
                fail("kernel.scheduler", "\"\(v)\" is not offered by the kernel; use one of: keep, \(offered.joined(separator: ", "))")
            } else if v.isEmpty || v.contains("/") || v.contains(where: \.isWhitespace) {
                fail("kernel.scheduler", "\"\(v)\" is not a scheduler name")
            } else {
                k.scheduler = v
            }
        }
        if let limits = table(t, "limits", at: "kernel") {
            known(limits, ["subflows", "add_addr_accepted"], at: "kernel.limits")
            k.subflowsLimit = limit(limits, "subflows")
            k.addAddrAcceptedLimit = limit(limits, "add_addr_accepted")
        }
        if let v: KernelSettings.OnExit = choice(t, "on_exit", at: "kernel") { k.onExit = v }
        return k
    }

    mutating func limit(_ t: TOMLTable, _ key: String) -> UInt32? {
        guard let v = int(t, key, at: "kernel.limits") else { return nil }
        guard (0...Int(Limits.maximum)).contains(v) else {
            fail("kernel.limits." + key, "must be 0 to \(Limits.maximum) (the kernel's maximum), not \(v)")
            return nil
        }
        return UInt32(v)
    }

    mutating func interface(_ t: TOMLTable, at path: String, position: Int) -> InterfaceRule? {
        known(t, ["name", "role", "announce", "announce_port", "fullmesh", "families", "skip_link_local", "require_default_route"], at: path)
        var globs: [Glob] = []
        var ok = true
        if let value = t["name"] {
            var patterns: [String] = []
            if let s = value.string {
                patterns = [s]
            } else if let array = value.array {
                for (i, element) in array.enumerated() {
                    if let s = element.string { patterns.append(s) } else {
                        fail(path + ".name", "element \(i + 1): expected a string, found \(kind(element))")
                        ok = false
                    }
                }
                if array.isEmpty { fail(path + ".name", "an empty list matches no interface"); ok = false }
            } else {
                fail(path + ".name", "expected a string or an array of strings, found \(kind(value))")
                ok = false
            }
            for p in patterns {
                do { globs.append(try Glob(p)) } catch {
                    fail(path + ".name", "bad pattern: \(error.message)")
                    ok = false
                }
            }
        } else {
            fail(path, "missing key \"name\" (the interfaces this block applies to)")
            ok = false
        }
        let role: Role? = choice(t, "role", at: path)
        if t["role"] == nil {
            fail(path, "missing key \"role\" (one of: \(Role.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var rule = InterfaceRule(names: globs, role: role ?? .off, position: position)
        if let v = bool(t, "announce", at: path) { rule.announce = v }
        if let v = bool(t, "fullmesh", at: path) { rule.fullmesh = v }
        if rule.announce && rule.fullmesh {
            fail(path + ".fullmesh", "cannot be combined with announce = true (the kernel refuses signal together with fullmesh)")
            ok = false
        }
        if let v = int(t, "announce_port", at: path) {
            if !(1...65535).contains(v) {
                fail(path + ".announce_port", "\(v) is not a port (1-65535)"); ok = false
            } else if !rule.announce {
                fail(path + ".announce_port", "needs announce = true (it is the port the addresses are announced on)"); ok = false
            } else {
                rule.announcePort = UInt16(v)
            }
        } else if t["announce_port"] != nil {
            ok = false
        }
        if let value = t["families"] {
            if let array = value.array {
                var families: Set<AddressFamily> = []
                for (i, element) in array.enumerated() {
                    if let s = element.string, let f = AddressFamily(rawValue: s) { families.insert(f) } else {
                        fail(path + ".families", "element \(i + 1): expected \"ipv4\" or \"ipv6\", found \(describe(element))")
                        ok = false
                    }
                }
                if array.isEmpty { fail(path + ".families", "an empty list uses no address; leave the key out for both"); ok = false }
                rule.families = families
            } else {
                fail(path + ".families", "expected an array of \"ipv4\"/\"ipv6\", found \(kind(value))")
                ok = false
            }
        }
        if let v = bool(t, "skip_link_local", at: path) { rule.skipLinkLocal = v }
        if let v = bool(t, "require_default_route", at: path) { rule.requireDefaultRoute = v }
        return ok && role != nil ? rule : nil
    }

    // MARK: Typed access

    mutating func known(_ t: TOMLTable, _ allowed: [String], at path: String) {
        for key in t.keys where !allowed.contains(key) {
            let full = path.isEmpty ? key : path + "." + key
            let near = allowed.min { distance($0, key) < distance($1, key) }
            var message = "unknown key \"\(key)\""
            if let near, distance(near, key) <= 2 { message += "; did you mean \"\(near)\"?" } else {
                message += "; known keys here: " + allowed.joined(separator: ", ")
            }
            fail(full, message)
        }
    }

    mutating func table(_ t: TOMLTable, _ key: String, at path: String) -> TOMLTable? {
        guard let value = t[key] else { return nil }
        if let table = value.table { return table }
        fail(join(path, key), "expected a table, found \(kind(value))")
        return nil
    }

    mutating func string(_ t: TOMLTable, _ key: String, at path: String) -> String? {
        guard let value = t[key] else { return nil }
        if let s = value.string { return s }
        fail(join(path, key), "expected a string, found \(kind(value))")
        return nil
    }

    mutating func bool(_ t: TOMLTable, _ key: String, at path: String) -> Bool? {
        guard let value = t[key] else { return nil }
        if let b = value.bool { return b }
        fail(join(path, key), "expected a boolean (true or false), found \(kind(value))")
        return nil
    }

    mutating func int(_ t: TOMLTable, _ key: String, at path: String) -> Int? {
        guard let value = t[key] else { return nil }
        if value.type == .int, let i = value.int { return i }
        fail(join(path, key), "expected an integer, found \(kind(value))")
        return nil
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ t: TOMLTable, _ key: String, at path: String) -> T?
    where T.RawValue == String {
        guard let s = string(t, key, at: path) else { return nil }
        if let v = T(rawValue: s) { return v }
        fail(join(path, key), "\"\(s)\" is not one of: " + T.allCases.map(\.rawValue).joined(separator: ", "))
        return nil
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// "a string", "an integer", ... for messages.
    func kind(_ value: TOMLValueConvertible) -> String {
        switch value.type {
        case .string: return "a string"
        case .int: return "an integer"
        case .double: return "a float"
        case .bool: return "a boolean"
        case .array: return "an array"
        case .table: return "a table"
        default: return "a date or time"
        }
    }

    func describe(_ value: TOMLValueConvertible) -> String {
        if let s = value.string { return "\"\(s)\"" }
        if value.type == .int, let n = value.int { return String(n) }
        return kind(value)
    }
}

/// Levenshtein distance, for "did you mean".
private func distance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var row = Array(0...b.count)
    for i in 1...a.count {
        var previous = row[0]
        row[0] = i
        for j in 1...b.count {
            let current = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
            previous = current
        }
    }
    return row[b.count]
}

/// The line each key path is written on, found by a light scan of the text
/// (TOMLKit does not expose source positions of values).
struct KeyLines {
    private var lines: [String: Int] = [:]

    init(_ text: String) {
        var table = ""
        var counts: [String: Int] = [:]
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = Self.stripComment(raw).trimmingSpaces
            let number = n + 1
            if line.hasPrefix("[[") {
                let name = Self.bare(line.dropFirst(2).prefix { $0 != "]" })
                counts[name, default: 0] += 1
                table = "\(name)[\(counts[name, default: 1])]"
                record(table, number)
            } else if line.hasPrefix("[") {
                table = Self.bare(line.dropFirst().prefix { $0 != "]" })
                // `[connection.match]` under `[[connection]]` belongs to the latest element.
                if let dot = table.firstIndex(of: "."), let n = counts[String(table[..<dot])] {
                    table = "\(table[..<dot])[\(n)]\(table[dot...])"
                }
                record(table, number)
            } else if let eq = line.firstIndex(of: "=") {
                let key = Self.bare(line[..<eq])
                let path = table.isEmpty ? key : table + "." + key
                record(path, number)
                let value = line[line.index(after: eq)...].trimmingSpaces
                if value.hasPrefix("{") {
                    // Inline table: `limits = { subflows = 8, add_addr_accepted = 8 }`.
                    for part in value.dropFirst().split(separator: ",") {
                        if let e = part.firstIndex(of: "=") { record(path + "." + Self.bare(part[..<e]), number) }
                    }
                }
            }
        }
    }

    private mutating func record(_ path: String, _ line: Int) {
        if lines[path] == nil { lines[path] = line }
    }

    /// The line of `path`, else of its nearest enclosing key (`a.b[2].c` falls
    /// back to `a.b[2]`, then `a.b`, then `a`).
    subscript(path: String) -> Int? {
        var p = Substring(path)
        while !p.isEmpty {
            if let line = lines[String(p)] { return line }
            if p.last == "]", let open = p.lastIndex(of: "["), open > p.startIndex {
                p = p[..<open]
            } else if let dot = p.lastIndex(of: ".") {
                p = p[..<dot]
            } else {
                break
            }
        }
        return nil
    }

    private static func bare(_ s: Substring) -> String {
        var t = s.trimmingSpaces
        if t.count >= 2, let f = t.first, f == "\"" || f == "'", t.last == f { t = t.dropFirst().dropLast() }
        return String(t)
    }

    private static func stripComment(_ s: Substring) -> Substring {
        var quote: Character?
        for i in s.indices {
            let c = s[i]
            if let q = quote { if c == q { quote = nil } } else if c == "\"" || c == "'" { quote = c } else if c == "#" {
                return s[..<i]
            }
        }
        return s
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return s
    }
}
