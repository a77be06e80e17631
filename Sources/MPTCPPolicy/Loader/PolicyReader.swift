import MPTCPKit
import TOMLKit

/// Walks the TOML tree, building the policy and collecting problems with
/// their key paths and lines (TOMLKit's Decodable errors say "key not found"
/// for a wrong type, so the tree is read by hand).
struct PolicyReader {
    let lines: KeyLines
    var diagnostics: [PolicyDiagnostic] = []

    init(lines: KeyLines) { self.lines = lines }

    mutating func fail(_ key: String, _ message: String) {
        diagnostics.append(PolicyDiagnostic(line: lines[key], key: key, message: message))
    }

    mutating func policy(_ root: TOMLTable, offer: KernelOffer?) -> Policy {
        var policy = Policy()
        known(root, ["daemon", "kernel", "interface", "connection", "hooks", "metrics", "routing", "probe"], at: "")
        if let daemon = table(root, "daemon", at: "") { policy.daemon = self.daemon(daemon) }
        if let hooks = table(root, "hooks", at: "") { policy.hooks = self.hooks(hooks) }
        if let metrics = table(root, "metrics", at: "") { policy.metrics = self.metrics(metrics) }
        if let kernel = table(root, "kernel", at: "") { policy.kernel = self.kernel(kernel, offer: offer) }
        if let routing = table(root, "routing", at: "") { policy.routing = self.routing(routing, offer: offer) }
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
        probes(root, into: &policy)
        checkRoutingRanges(policy, offer: offer)
        return policy
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
        known(t, ["listen", "per_connection"], at: "metrics")
        if let v = string(t, "listen", at: "metrics") {
            if MetricsListen(v) != nil { m.listen = v } else {
                fail("metrics.listen", "\"\(v)\" is not HOST:PORT with an IP address and a port 1-65535 (IPv6 as [::1]:9464)")
            }
        }
        if let v = int(t, "per_connection", at: "metrics") {
            if v >= 0 { m.perConnection = v } else {
                fail("metrics.per_connection", "must be a number of connections, 0 or more, not \(v)")
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
            } else if v.isEmpty || v.contains("/" as Character) || v.contains(where: \.isWhitespace) {
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
}
