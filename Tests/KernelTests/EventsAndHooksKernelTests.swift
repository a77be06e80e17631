import Foundation
import MPTCPAPI
import MPTCPKit
import Testing

extension ControlClient {
    /// The next `event` notification that `match`es (others are skipped); nil
    /// when none came within 10 s of the last line. `missed` collects any
    /// `events_missed` counts seen on the way.
    func event(missed: inout Int, _ match: (JSONValue) -> Bool) throws -> JSONValue? {
        while let line = readLine() {
            guard case .notification(let method, let params) = try RPCWire.decodeMessage(line) else { continue }
            if method == "events_missed" { missed += Int(params["missed"]?.integerValue ?? 0) }
            if method == "event" && match(params) { return params }
        }
        return nil
    }

    func event(_ match: (JSONValue) -> Bool) throws -> JSONValue? {
        var missed = 0
        return try event(missed: &missed, match)
    }
}

/// `mptcpctl ARGS` running in the background (a monitor), its standard output
/// collected in a file; ended (SIGTERM) and removed by `deinit`.
final class BackgroundCommand {
    let process = Process()
    let output: URL

    init(_ arguments: [String]) throws {
        output = FileManager.default.temporaryDirectory.appendingPathComponent("mptcpctl-out-\(getpid())-\(UUID().uuidString.prefix(8))")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: Repository.mptcpctl)
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: output)
    }

    /// The complete lines written so far.
    var lines: [String] {
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    /// The lines that are JSON objects.
    var objects: [JSONValue] { lines.compactMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) } }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}

/// `subscribe`, `mptcpctl monitor` through the daemon, hooks, `policy.plan`,
/// the reload diff and `[metrics] listen`, against a daemon in a private namespace.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class EventsAndHooksKernelTests {
    let lab: Lab

    init() throws {
        lab = try Lab(paths: 2)
    }

    deinit { lab.close() }

    var socketPath: String { "/run/mptcpctl/mptcpctld-\(lab.client).sock" }

    func start(_ extra: String = "", role: String = "backup") throws -> Daemon {
        let daemon = try Daemon(namespace: lab.client, policy: """
            [daemon]
            state_directory = "@STATE@"
            resync_interval = 0
            \(extra)
            [[interface]]
            name = "a2"
            role = "\(role)"
            families = ["ipv4"]
            """)
        try daemon.waitServing()
        try daemon.waitUntil("the backup endpoint") { try PathManager(namespace: lab.clientNamespace).endpoints().count == 1 }
        return daemon
    }

    func link(_ name: String, _ state: String) throws {
        try lab.exec(lab.client, ["ip", "link", "set", name, state])
    }

    @Test func subscribersGetKernelEventsInterfaceChangesActionsAndReloads() throws {
        let daemon = try start()
        let all = try ControlClient(socketPath)
        let subscribed = try all.result("subscribe")
        #expect(subscribed["subscribed"] == true && subscribed["queue"] == 1024)
        #expect(subscribed["kinds"] == ["kernel", "interface", "action", "resync", "policy", "lost", "hook", "health"])
        let policyOnly = try ControlClient(socketPath)
        #expect(try policyOnly.result("subscribe", ["kinds": ["policy"]])["kinds"] == ["policy"])
        #expect(try ControlClient(socketPath).error("subscribe", ["kinds": ["nonsense"]])?.name == "invalid_params")
        #expect(try ControlClient(socketPath).error("subscribe", ["kinds": "policy"])?.name == "invalid_params")

        // Kernel events of a real connection, named as `monitor --json` names them.
        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", "7501"])
        defer { server.stop() }
        _ = try server.wait(for: "listening")
        let client = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", "7501"])
        defer { client.stop() }
        _ = try client.wait(for: "connected")
        client.send("send 1000")  // a client's MPTCP is fully established by data
        let established = try #require(try all.event { $0["kind"] == "kernel" && $0["type"] == "established" })
        #expect(established["remote_address"] == "10.0.1.2" && established["remote_port"] == 7501)
        #expect(established["token"]?.stringValue?.count == 8)
        #expect(established["time"] != nil)

        // A link going down: the interface event, then the daemon's action with its reason.
        try link("a2", "down")
        let down = try #require(try all.event { $0["kind"] == "interface" && $0["type"] == "link_down" })
        #expect(down["interface"] == "a2")
        let deleted = try #require(try all.event { $0["kind"] == "action" && $0["type"] == "endpoint_delete" })
        #expect(deleted["address"] == "10.0.2.1" && deleted["result"] == "ok")
        #expect(deleted["reason"]?.stringValue?.contains("a2 is down") == true, "\(deleted)")
        try link("a2", "up")
        #expect(try all.event { $0["kind"] == "action" && $0["type"] == "endpoint_add" } != nil)

        // A reload, seen by both; the policy-only subscriber saw nothing else.
        try daemon.reload(policy: daemon.policyText.replacingOccurrences(of: "role = \"backup\"", with: "role = \"active\""))
        let reloaded = try #require(try policyOnly.readLine().map { try RPCWire.decodeMessage($0) })
        guard case .notification("event", let params) = reloaded else { Issue.record("not an event: \(reloaded)"); return }
        #expect(params["kind"] == "policy" && params["type"] == "reloaded" && params["changes"] == 1)
        #expect(params["changed_keys"] == ["interface[1].role"], "an array, as policy.reload's changes: \(params)")
        #expect(try all.event { $0["kind"] == "policy" } != nil)
        // A subscriber still gets answers to requests.
        #expect(try all.result("status")["reloads"] == 1)
        #expect(daemon.stop() == 0)
    }

    /// A subscriber that never reads: path management goes on, others are
    /// answered, its queue stays bounded, and it is told how many it missed.
    @Test func aSubscriberThatNeverReadsMissesEventsButStallsNothing() throws {
        let daemon = try start()
        let stuck = try ControlClient(socketPath)
        #expect(try stuck.result("subscribe", ["kinds": ["kernel"]])["subscribed"] == true)
        let python = try #require(Repository.python)
        // 8000 listener events, far more than the socket buffer and the queue hold.
        try lab.exec(lab.client, [python, "-c", """
            import socket
            for i in range(4000):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
                s.bind(("127.0.0.1", 0)); s.listen(); s.close()
            """])
        try link("a2", "down")
        try daemon.waitUntil("the endpoint withdrawn meanwhile") { try PathManager(namespace: lab.clientNamespace).endpoints().isEmpty }
        let other = try ControlClient(socketPath)
        try daemon.waitUntil("another client answered meanwhile") { try other.result("status")["owned_endpoints"] == 0 }
        let rss = try String(contentsOfFile: "/proc/\(daemon.process.processIdentifier)/status", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? 0
        #expect(!Sanitizer.checksMemory || rss < 200_000, "RSS \(rss) kB")
        // Reading now: what was buffered, the count of what was not where the gap
        // is, and the later events; until 2 s pass without one.
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(stuck.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var missed = 0
        var received = 0
        var gaps = 0
        while let line = stuck.readLine() {
            if case .notification(let method, let params) = try RPCWire.decodeMessage(line) {
                if method == "event" { received += 1 }
                if method == "events_missed" {
                    gaps += 1
                    missed += Int(params["missed"]?.integerValue ?? 0)
                    #expect(params["message"]?.stringValue?.contains("did not read fast enough") == true)
                }
            }
        }
        #expect(missed > 0 && gaps >= 1, "received \(received)")
        #expect(received + missed == 8000, "every event either received or counted: received \(received), missed \(missed) in \(gaps) gaps")
        #expect(try stuck.result("status")["owned_endpoints"] == 0, "and the stream goes on answering")
        #expect(daemon.stop() == 0)
    }

    /// Hooks: name order, the event in the environment (no shell, no inherited
    /// sockets), a failing hook logged and the next run, a hanging one (and its
    /// children) killed at the timeout without delaying path management.
    @Test func hooksRunWithTheEventAndAreContained() throws {
        let hooks = FileManager.default.temporaryDirectory.appendingPathComponent("mptcpctl-hooks-\(getpid())-\(UUID().uuidString.prefix(6))")
        let records = hooks.appendingPathComponent("records")
        try FileManager.default.createDirectory(at: records, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: hooks) }
        let directory = hooks.appendingPathComponent("hooks.d")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func hook(_ name: String, _ body: String, executable: Bool = true) throws {
            let path = directory.appendingPathComponent(name).path
            try ("#!/bin/sh\nR=\(records.path)\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, executable ? 0o755 : 0o644)
        }
        try hook("10-record", """
            { env | grep '^MPTCPCTL_' | sort; echo "ARGV1=$1"; echo "LEAKED=$(ls -l /proc/$$/fd | grep -c 'socket:\\|anon_inode')"; } > "$R/$MPTCPCTL_EVENT.$$"
            echo "10 $MPTCPCTL_EVENT" >> "$R/order"
            """)
        try hook("20-fail", "echo \"20 $MPTCPCTL_EVENT\" >> \"$R/order\"; echo twenty failed; exit 3")
        try hook("30-hang", """
            echo "30 $MPTCPCTL_EVENT" >> "$R/order"
            [ "$MPTCPCTL_EVENT" = interface_down ] || exit 0
            sleep 1000 & echo $! > "$R/child.pid"
            sleep 1000
            """)
        try hook("25-loud", "[ \"$MPTCPCTL_EVENT\" = interface_up ] && head -c 3000000 /dev/zero | tr '\\0' x; exit 0")
        try hook("40-after", "echo \"40 $MPTCPCTL_EVENT\" >> \"$R/order\"")
        try hook(".hidden", "echo hidden >> \"$R/order\"")
        try hook("50-not-executable", "echo 50 >> \"$R/order\"", executable: false)
        let daemon = try start("[hooks]\ndirectory = \"\(directory.path)\"\ntimeout = 3\n")
        // What the hooks did, from start-up on (hooks were enabled before any client could subscribe).
        let runs = try daemon.subscribe([.hook], startUp: true)
        let enabled = try runs.first("hooks enabled") { $0.kind == .hook && $0.type == "enabled" }
        #expect(enabled["directory"] == directory.path && enabled["timeout"] == "3", "\(runs.described)")

        func order() -> [String] {
            ((try? String(contentsOf: records.appendingPathComponent("order"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        func record(_ event: String) throws -> [String: String] {
            let name = try #require(try FileManager.default.contentsOfDirectory(atPath: records.path).first { $0.hasPrefix(event + ".") })
            let text = try String(contentsOf: records.appendingPathComponent(name), encoding: .utf8)
            return Dictionary(text.split(separator: "\n").compactMap { line in
                line.firstIndex(of: "=").map { (String(line[..<$0]), String(line[line.index(after: $0)...])) }
            }, uniquingKeysWith: { a, _ in a })
        }

        // interface_down: 30-hang hangs (with a child) until killed at 3 s.
        try link("a2", "down")
        try daemon.waitUntil("the first hooks") { order().count >= 3 }
        let down = try record("interface_down")
        #expect(down["ARGV1"] == "interface_down" && down["MPTCPCTL_EVENT"] == "interface_down")
        #expect(down["MPTCPCTL_INTERFACE"] == "a2" && down["MPTCPCTL_KIND"] == "interface" && down["MPTCPCTL_TYPE"] == "link_down")
        #expect(down["MPTCPCTL_NAMESPACE"] == lab.client && down["MPTCPCTL_SOCKET"] == socketPath)
        #expect(down["LEAKED"] == "0", "no socket of the daemon's reaches a hook")
        #expect(down["PATH"] == nil && down["HOME"] == nil, "only MPTCPCTL_ variables were recorded")
        // Path management does not wait for the hanging hook: the link comes back
        // and its endpoint with it while the hook still runs.
        try link("a2", "up")
        try daemon.waitUntil("the endpoint back") { try PathManager(namespace: lab.clientNamespace).endpoints().count == 1 }
        #expect(try runs.all { $0.type == "killed" }.isEmpty, "re-added before the hook's timeout")
        let killed = try runs.first("the hang killed", seconds: 10) { $0.type == "killed" }
        #expect(killed["hook"]?.hasSuffix("30-hang") == true && killed["event"] == "interface_down")
        #expect(try runs.all { $0.type == "timed_out" }.first?["hook"] == killed["hook"], "SIGTERM at its timeout came first: \(runs.described)")
        let child = try #require(Int32(try String(contentsOf: records.appendingPathComponent("child.pid"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        try daemon.waitUntil("its child gone too") { kill(child, 0) != 0 }
        try daemon.waitUntil("the rest of the hooks") { order().filter { $0 == "40 interface_down" || $0 == "40 interface_up" }.count == 2 }
        // 3 MB of output: read and dropped, its size logged, the first KiB kept.
        let loud = try runs.first("the loud hook's run") {
            $0.type == "ran" && $0["hook"]?.hasSuffix("25-loud") == true && $0["output_bytes"] != nil
        }
        #expect(loud["output_bytes"] == "3000000" && loud["output"]?.count == 1024, "\(loud.text)")
        let failed = try runs.first("the failing hook's run") { $0.type == "failed" && $0["hook"]?.hasSuffix("20-fail") == true }
        #expect(failed["exit_code"] == "3" && failed["output"] == "twenty failed", "\(failed.text)")
        // Name order within each event; the hidden and the non-executable never run.
        for event in ["interface_down", "interface_up"] {
            #expect(order().filter { $0.hasSuffix(" " + event) } == ["10 \(event)", "20 \(event)", "30 \(event)", "40 \(event)"])
        }
        #expect(!order().contains("hidden") && !order().contains("50"))

        // Connection events carry the connection.
        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", "7502"])
        defer { server.stop() }
        _ = try server.wait(for: "listening")
        let client = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", "7502"])
        _ = try client.wait(for: "connected")
        client.send("send 1000")
        try daemon.waitUntil("connection_established hooks") { order().contains("40 connection_established") }
        let established = try record("connection_established")
        #expect(established["MPTCPCTL_TOKEN"]?.count == 8)
        #expect(established["MPTCPCTL_LOCAL_ADDRESS"] == "10.0.1.1" && established["MPTCPCTL_REMOTE_PORT"] == "7502")
        #expect(Int(established["MPTCPCTL_SEQ"] ?? "") ?? 0 > 0 && Double(established["MPTCPCTL_TIME"] ?? "") != nil, "\(established)")
        // The kernel's subflow event, by its name (sub_established), runs subflow_established.
        try daemon.waitUntil("subflow_established hooks") { order().contains("40 subflow_established") }
        let subflow = try record("subflow_established")
        #expect(subflow["MPTCPCTL_TYPE"] == "sub_established" && subflow["MPTCPCTL_INTERFACE"] == "a2", "\(subflow)")
        client.stop()
        try daemon.waitUntil("connection_closed hooks") { order().contains("40 connection_closed") }
        #expect(try record("connection_closed")["MPTCPCTL_TOKEN"] == established["MPTCPCTL_TOKEN"])

        try daemon.reload(policy: daemon.policyText.replacingOccurrences(of: "timeout = 3", with: "timeout = 4"))
        try daemon.waitUntil("policy_reloaded hooks") { order().contains("40 policy_reloaded") }
        // An array field is its elements separated by spaces, as the monitor's line writes it.
        #expect(try record("policy_reloaded")["MPTCPCTL_CHANGED_KEYS"] == "hooks.timeout")
        #expect(daemon.stop() == 0)
    }

    /// A hook that grows a tree of 255 processes and exits: its whole process
    /// group goes with it (under systemd the unit's TasksMax=256 also bounds a
    /// tree that grows faster than that), and path management goes on meanwhile.
    @Test func aHookThatForksATreeOfProcessesIsEndedWithItsGroup() throws {
        let hooks = FileManager.default.temporaryDirectory.appendingPathComponent("mptcpctl-bomb-\(getpid())-\(UUID().uuidString.prefix(6))")
        let directory = hooks.appendingPathComponent("hooks.d")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: hooks) }
        let marker = "4242.\(getpid())"
        let script = directory.appendingPathComponent("10-tree").path
        try """
            #!/bin/sh
            [ "$MPTCPCTL_EVENT" = interface_down ] || exit 0
            tree() { [ "$1" -eq 0 ] && exec sleep \(marker); tree $(($1 - 1)) & tree $(($1 - 1)) & wait; }
            tree 7 &
            for i in $(seq 100); do [ "$(pgrep -f -c 'sleep \(marker)')" -ge 128 ] && break; sleep 0.05; done
            pgrep -f -c 'sleep \(marker)' > \(hooks.path)/grown.tmp && mv \(hooks.path)/grown.tmp \(hooks.path)/grown
            exit 0

            """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let daemon = try start("[hooks]\ndirectory = \"\(directory.path)\"\ntimeout = 30\n")
        let runs = try daemon.subscribe([.hook])
        func alive() throws -> Int {
            Int(try run("/usr/bin/pgrep", ["-f", "-c", "sleep \(marker)"], check: false).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        defer { _ = try? run("/usr/bin/pkill", ["-KILL", "-f", "sleep \(marker)"], check: false) }
        try link("a2", "down")
        try daemon.waitUntil("the tree grown", seconds: 15) {
            (try? String(contentsOfFile: hooks.path + "/grown", encoding: .utf8)) != nil
        }
        let grown = Int((try String(contentsOfFile: hooks.path + "/grown", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(grown >= 128, "the hook grew its tree: \(grown) leaves")
        try daemon.waitUntil("every process of the tree ended with the hook", seconds: 10) { try alive() == 0 }
        try runs.first("the tree hook's end") { $0.type == "ran" && $0["hook"]?.hasSuffix("10-tree") == true && $0["event"] == "interface_down" }
        #expect(try runs.all { $0.type == "killed" || $0.type == "timed_out" }.isEmpty, "ended when the hook exited, not at its timeout")
        try link("a2", "up")
        try daemon.waitUntil("path management went on") { try PathManager(namespace: lab.clientNamespace).endpoints().count == 1 }
        #expect(daemon.stop() == 0)
    }

    /// `monitor`, `plan` and `reload` through the daemon.
    @Test func theCLIMonitorsPlansAndReloadsThroughTheDaemon() throws {
        // Without source routing, a link's going down is one action (its endpoint's delete).
        let daemon = try start("[kernel]\nlimits = { subflows = 4, add_addr_accepted = 4 }\n[routing]\nmode = \"off\"\n")
        func monitor(_ arguments: [String]) throws -> (Process, Pipe) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Repository.mptcpctl)
            process.arguments = ["-n", lab.client] + arguments
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            return (process, out)
        }
        func output(_ m: (Process, Pipe)) -> String {
            m.0.waitUntilExit()
            return String(decoding: m.1.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }
        let c = try ControlClient(socketPath)
        let text = try monitor(["monitor", "--count", "1", "--kind", "interface"])
        let json = try monitor(["-j", "monitor", "--count", "2", "--kind", "action,policy"])
        try daemon.waitUntil("both subscribed") {
            try c.result("metrics")["text"]?.stringValue?.contains("mptcpctld_api_requests_total{method=\"subscribe\",result=\"ok\"} 2") == true
        }
        try link("a2", "down")
        let line = output(text)
        #expect(line.hasPrefix("[INTERFACE link_down] interface=a2 interface_index="), "\(line)")
        try daemon.reload(policy: daemon.policyText)
        let objects = output(json).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(objects.count == 2)
        #expect(objects.first?["kind"] as? String == "action" && objects.first?["type"] as? String == "endpoint_delete")
        #expect(objects.last?["kind"] as? String == "policy" && objects.last?["type"] as? String == "reloaded")

        #expect(try lab.mptcpctl(lab.client, ["monitor", "--kernel", "--kind", "policy"], check: false).status == 64)
        #expect(try lab.mptcpctl(lab.client, ["monitor", "--kind", "sideways"], check: false).status == 64)

        // plan: the daemon's view (its policy, the endpoints it owns).
        try link("a2", "up")
        try daemon.waitUntil("the endpoint back") { try PathManager(namespace: lab.clientNamespace).endpoints().count == 1 }
        let plan = try lab.mptcpctl(lab.client, ["plan"], check: false)
        #expect(plan.status == 0 && plan.stdout.hasSuffix("no changes: the kernel matches the policy\n"), "\(plan.stdout)\(plan.stderr)")
        let planJSON = try lab.mptcpctl(lab.client, ["-j", "plan"]).stdout
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(planJSON.utf8)) as? [String: Any])
        #expect((parsed["changes"] as? [Any])?.isEmpty == true && parsed["text"] == nil)
        // Limits changed by hand: the daemon sets them again only at a reload, so
        // its plan shows the change (endpoints it would repair at once).
        try lab.mptcpctl(lab.client, ["limits", "set", "--subflows", "2"])
        let pending = try lab.mptcpctl(lab.client, ["plan"], check: false)
        #expect(pending.status == 2 && pending.stdout.contains("limits  subflows 2 -> 4"), "\(pending.stdout)")

        // reload prints what changes.
        try daemon.write(policy: daemon.policyText.replacingOccurrences(of: "role = \"backup\"", with: "role = \"active\""))
        let reload = try lab.mptcpctl(lab.client, ["reload"]).stdout
        #expect(reload == "reloading \(daemon.configPath): 1 change\n  interface[1].role: \"backup\" -> \"active\"\n", "\(reload)")
        #expect(daemon.stop() == 0)
    }

    /// Opens and closes an MPTCP listener in `namespace`: LISTENER_CREATED and LISTENER_CLOSED.
    func listenOnce(_ namespace: String, port: Int) throws {
        let python = try #require(Repository.python)
        try lab.exec(namespace, [python, "-c", """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262); s.bind(("127.0.0.1", \(port))); s.listen(); s.close()
            """])
    }

    /// Index of the `listener_closed` line of `port` in a JSON monitor's output, once
    /// the monitor reads events (listeners are opened and closed until it shows one).
    func waitUntilMonitoring(_ monitor: BackgroundCommand, _ namespace: String, port: Int) throws -> Int {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            try listenOnce(namespace, port: port)
            let settle = Date().addingTimeInterval(2)
            while Date() < settle {
                if let i = monitor.objects.lastIndex(where: { $0["type"] == "listener_closed" && $0["local_port"] == .integer(Int64(port)) }) {
                    return i
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        throw LabError("the monitor \(monitor.process.arguments ?? []) showed no event: \(monitor.lines)")
    }

    /// The keys a kernel event's object has: the four every event has, and one per
    /// attribute the kernel sent (decoded independently by the test's subscription).
    func expectedKeys(_ e: Event) -> Set<String> {
        var keys: Set<String> = ["kind", "type", "time", "seq"]
        let present: [(String, Bool)] = [
            ("token", e.token != nil), ("family", e.family != nil), ("local_address", e.localAddress != nil),
            ("local_port", e.localPort != nil), ("remote_address", e.remoteAddress != nil), ("remote_port", e.remotePort != nil),
            ("local_id", e.localID != nil), ("remote_id", e.remoteID != nil), ("backup", e.backup != nil),
            ("interface_index", e.interfaceIndex != nil), ("interface", (e.interfaceIndex ?? 0) != 0), ("error", e.error != nil),
            ("flags", e.flags != nil), ("deny_join_id0", e.flags != nil), ("server_side", e.flags != nil || e.serverSideAttribute != nil),
            ("timeout", e.timeout != nil), ("reset_reason", e.resetReason != nil), ("reset_flags", e.resetFlags != nil),
        ]
        for (key, sent) in present where sent { keys.insert(key) }
        for a in e.unknownAttributes { keys.insert("attribute_\(a.type)") }
        return keys
    }

    /// `monitor --kernel --json` shows every event with every attribute the kernel
    /// sent, and `monitor --json` through the daemon shows the kernel's events as
    /// the same objects (kind, type, time, seq and the same fields).
    @Test func kernelEventsHaveOneSchemaReadDirectlyOrThroughTheDaemon() throws {
        let daemon = try start()
        let c = try ControlClient(socketPath)
        let direct = try BackgroundCommand(["-n", lab.client, "-j", "monitor", "--kernel"])
        let serverDirect = try BackgroundCommand(["-n", lab.server, "-j", "monitor", "--kernel"])
        let mark = try waitUntilMonitoring(direct, lab.client, port: 7601)
        let serverMark = try waitUntilMonitoring(serverDirect, lab.server, port: 7602)
        let clientLog = try EventRecorder(lab.clientNamespace)
        let serverLog = try EventRecorder(lab.serverNamespace)
        let throughDaemon = try BackgroundCommand(["-n", lab.client, "-j", "monitor", "--kind", "kernel"])
        try daemon.waitUntil("the monitor subscribed") {
            try c.result("metrics")["text"]?.stringValue?.contains("mptcpctld_api_requests_total{method=\"subscribe\",result=\"ok\"} 1") == true
        }

        // A connection whose life makes most event types: a subflow from the
        // daemon's endpoint on a2 (bound to it), an address announced and
        // withdrawn by the server, the subflow closed with its link, the end.
        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", "7503"])
        defer { server.stop() }
        _ = try server.wait(for: "listening")
        let client = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", "7503"])
        defer { client.stop() }
        _ = try client.wait(for: "connected")
        client.send("send 1000")
        let joined = try clientLog.wait("sub_established") { $0.type == .subflowEstablished }
        let token = try #require(joined.token)
        let serverPM = try PathManager(namespace: lab.serverNamespace)
        try serverPM.addEndpoint(Endpoint(id: 7, address: lab.address("b", path: 2), flags: .signal))
        try clientLog.wait("announced") { $0.type == .announced && $0.token == token }
        try serverPM.deleteEndpoint(id: 7)
        try clientLog.wait("removed") { $0.type == .removed && $0.token == token }
        try link("a2", "down")
        try clientLog.wait("sub_closed") { $0.type == .subflowClosed && $0.token == token }
        client.send("quit")
        try clientLog.wait("closed") { $0.type == .closed && $0.token == token }
        let serverEvent = try serverLog.wait("server created") { $0.type == .created }
        // The end: a last listener, once every monitor has shown it.
        try listenOnce(lab.client, port: 7604)
        try clientLog.wait("the last listener") { $0.type == .listenerClosed && $0.localPort == 7604 }
        for m in [direct, throughDaemon] {
            try daemon.waitUntil("\(m.process.arguments ?? []) shows the last listener") {
                m.objects.contains { $0["type"] == "listener_closed" && $0["local_port"] == 7604 }
            }
        }

        // Directly: one object per event the test's own subscription decoded, in
        // the same order, with exactly the attributes the kernel sent.
        let clientEvents = clientLog.events
        let shown = Array(direct.objects[(mark + 1)...])
        #expect(shown.count == clientEvents.count, "\(shown.map { $0["type"] ?? nil }) vs \(clientEvents.map(\.type.name))")
        for (object, event) in zip(shown, clientEvents) {
            #expect(Set(object.objectValue?.keys.map { $0 } ?? []) == expectedKeys(event), "\(object) for \(event)")
            #expect(object["kind"] == "kernel" && object["type"] == .string(event.type.name))
            #expect(object["token"]?.stringValue == event.token.map(formatToken))
            #expect(object["local_port"]?.integerValue == event.localPort.map(Int64.init))
            #expect(object["remote_address"]?.stringValue == event.remoteAddress?.description)
            #expect(object["backup"]?.boolValue == event.backup)
            #expect(object["interface_index"]?.integerValue == event.interfaceIndex.map(Int64.init))
        }
        let types = Set(shown.compactMap { $0["type"]?.stringValue })
        #expect(types.isSuperset(of: ["created", "established", "sub_established", "announced", "removed", "sub_closed", "closed",
                                      "listener_created", "listener_closed"]), "\(types)")
        let bound = try #require(shown.first { $0["type"] == "sub_established" })
        #expect(bound["interface"] == "a2", "the subflow bound to a2 names it: \(bound)")
        // The server's side: CREATED carries the server-side flag (6.18) and the legacy attribute.
        let serverCreated = try #require(serverDirect.objects[(serverMark + 1)...].first { $0["type"] == "created" })
        #expect(serverCreated["server_side"] == true && serverCreated["flags"]?.integerValue.map { $0 & 2 } == 2, "\(serverCreated)")
        #expect(Set(serverCreated.objectValue?.keys.map { $0 } ?? []) == expectedKeys(serverEvent), "\(serverCreated)")

        // Through the daemon: the same objects but for when and where in the stream.
        func withoutPlace(_ v: JSONValue) -> JSONValue {
            var o = v.objectValue ?? [:]
            o["time"] = nil
            o["seq"] = nil
            return .object(o)
        }
        let fromDaemon = throughDaemon.objects
        #expect(fromDaemon.count >= clientEvents.count - 2, "\(fromDaemon.count) events through the daemon")
        let directSet = Set(shown.map(withoutPlace))
        for object in fromDaemon {
            #expect(directSet.contains(withoutPlace(object)), "through the daemon as directly: \(object)")
        }
        for stream in [shown, fromDaemon] {
            let seqs = stream.compactMap { $0["seq"]?.integerValue }
            #expect(seqs.count == stream.count && zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 }, "seq rises: \(seqs)")
            let times = stream.compactMap { v -> Double? in if case .number(let d)? = v["time"] { d } else { v["time"]?.integerValue.map(Double.init) } }
            #expect(times.count == stream.count && zip(times, times.dropFirst()).allSatisfy { $0 <= $1 }, "time never goes back: \(times)")
        }
        #expect(daemon.stop() == 0)
    }

    /// Under the userspace path manager, the kernel event that made the daemon act
    /// is published before the action, which names it (`cause`, `cause_seq`), and
    /// each carries its own time. `monitor` prints them in that order.
    @Test func actionsFollowTheKernelEventThatCausedThemAndNameIt() throws {
        let daemon = try Daemon(namespace: lab.client, policy: """
            [daemon]
            state_directory = "@STATE@"
            resync_interval = 0
            [kernel]
            path_manager = "userspace"
            [[interface]]
            name = "a2"
            role = "active"
            families = ["ipv4"]
            """)
        try daemon.waitRunning()
        let all = try ControlClient(socketPath)
        #expect(try all.result("subscribe")["subscribed"] == true)
        let monitor = try BackgroundCommand(["-n", lab.client, "-j", "monitor"])
        let text = try BackgroundCommand(["-n", lab.client, "monitor"])
        try daemon.waitUntil("the monitors subscribed") {
            try ControlClient(socketPath).result("metrics")["text"]?.stringValue?
                .contains("mptcpctld_api_requests_total{method=\"subscribe\",result=\"ok\"} 3") == true
        }
        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", "7505"])
        defer { server.stop() }
        _ = try server.wait(for: "listening")
        let client = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", "7505"])
        defer { client.stop() }
        _ = try client.wait(for: "connected")
        client.send("send 1000")

        var stream: [JSONValue] = []
        let requested = try #require(try all.event { e in
            stream.append(e)
            return e["kind"] == "action" && e["type"] == "subflow_requested"
        })
        let token = try #require(requested["token"])
        let established = try #require(stream.first { $0["kind"] == "kernel" && $0["type"] == "established" && $0["token"] == token },
                                       "the kernel's event came before the action it caused: \(stream)")
        #expect(requested["cause"] == "kernel:established" && requested["cause_seq"] == established["seq"], "\(requested)")
        let seqs = stream.compactMap { $0["seq"]?.integerValue }
        #expect(seqs.count == stream.count && zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 }, "\(seqs)")
        func time(_ v: JSONValue) -> Double? { if case .number(let d)? = v["time"] { d } else { v["time"]?.integerValue.map(Double.init) } }
        let (t0, t1) = (try #require(time(established)), try #require(time(requested)))
        #expect(t0 <= t1, "observed, then acted on: \(t0) \(t1)")

        // The CLI prints them in the same order, with the same cause.
        try daemon.waitUntil("the monitor printed the action") {
            monitor.objects.contains { $0["type"] == "subflow_requested" && $0["token"] == token }
        }
        let printed = monitor.objects
        let e = try #require(printed.firstIndex { $0["type"] == "established" && $0["token"] == token })
        let a = try #require(printed.firstIndex { $0["type"] == "subflow_requested" && $0["token"] == token })
        #expect(e < a && printed[a]["cause_seq"] == printed[e]["seq"], "\(printed)")
        try daemon.waitUntil("the line printed") { text.lines.contains { $0.hasPrefix("[ACTION subflow_requested]") } }
        let lines = text.lines
        let kernelLine = try #require(lines.firstIndex { $0.hasPrefix("[ESTABLISHED] token=\(token.stringValue ?? "")") })
        let actionLine = try #require(lines.firstIndex { $0.hasPrefix("[ACTION subflow_requested] token=\(token.stringValue ?? "")") })
        #expect(kernelLine < actionLine && lines[actionLine].contains(" cause=kernel:established cause_seq="), "\(lines)")
        #expect(daemon.stop() == 0)
    }

    /// The human monitor writes values as the daemon's log does: a reason that
    /// quotes an interface name reads back whole.
    @Test func theMonitorLineQuotesAReasonAsTheLogDoes() throws {
        // Without source routing, whose actions come first in a pass: the endpoint's is the one action.
        let daemon = try start("[routing]\nmode = \"off\"")
        try link("a2", "down")
        try daemon.waitUntil("the endpoint gone") { try PathManager(namespace: lab.clientNamespace).endpoints().isEmpty }
        let monitor = try BackgroundCommand(["-n", lab.client, "monitor", "--kind", "action", "--count", "1"])
        try daemon.waitUntil("the monitor subscribed") {
            try ControlClient(socketPath).result("metrics")["text"]?.stringValue?
                .contains("mptcpctld_api_requests_total{method=\"subscribe\",result=\"ok\"} 1") == true
        }
        try link("a2", "up")
        monitor.process.waitUntilExit()
        let line = try #require(monitor.lines.first)
        #expect(line.hasPrefix("[ACTION endpoint_add] "), "\(line)")
        let reason = "a2 is backup (interface[1] \"a2\")"
        #expect(LogLine(line).fields["reason"] == reason, "\(line)")
        let logged = try #require(daemon.logLines.first { $0.message == "added endpoint" && $0["reason"] == reason }, "\(daemon.log)")
        let quoted = #"reason="a2 is backup (interface[1] \"a2\")""#
        #expect(line.contains(quoted) && logged.description.contains(quoted), "the same words: \(line) / \(logged)")
        #expect(daemon.stop() == 0)
    }

    /// `[metrics] listen`: /metrics over HTTP inside the daemon's namespace.
    @Test func metricsAreServedOverHTTPWhenAsked() throws {
        let daemon = try start("[metrics]\nlisten = \"127.0.0.1:19464\"\n")
        let python = try #require(Repository.python)
        func get(_ path: String, in namespace: String) throws -> String {
            try lab.exec(namespace, [python, "-c", """
                import sys, urllib.request, urllib.error
                try:
                    r = urllib.request.urlopen("http://127.0.0.1:19464" + sys.argv[1], timeout=5)
                    print(r.status, r.headers["Content-Type"]); print(r.read().decode())
                except urllib.error.HTTPError as e:
                    print(e.code)
                except OSError as e:
                    print("refused")
                """, path]).stdout
        }
        try daemon.waitUntil("the metrics endpoint answers") { try get("/metrics", in: lab.client).hasPrefix("200 ") }
        // Under the in-kernel path manager too, kernel events are counted by type.
        try lab.exec(lab.client, [python, "-c", """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262); s.bind(("127.0.0.1", 7503)); s.listen(); s.close()
            """])
        try daemon.waitUntil("the listener counted") {
            try get("/metrics", in: lab.client).contains("mptcpctld_kernel_events_total{type=\"listener_closed\"} 1")
        }
        let body = try get("/metrics", in: lab.client)
        #expect(body.hasPrefix("200 text/plain; version=0.0.4"), "\(body.prefix(200))")
        #expect(body.contains("mptcpctld_endpoint_changes_total{action=\"add\",result=\"ok\"} 1"))
        #expect(try get("/", in: lab.client).hasPrefix("404"))
        #expect(try get("/metrics", in: lab.server) == "refused\n", "only in the daemon's namespace")
        #expect(daemon.stop() == 0)
    }
}
