import Foundation
import MPTCPAPI
import MPTCPKit
import Testing

/// The control socket against a daemon in a private namespace: every method
/// over a real socket, bad requests, limits and who may do what.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class ControlAPIKernelTests {
    let lab: Lab

    static let policy = """
        [daemon]
        state_directory = "@STATE@"
        resync_interval = 0
        [[interface]]
        name = "a2"
        role = "backup"
        families = ["ipv4"]
        """

    init() throws {
        lab = try Lab(paths: 2)
    }

    deinit { lab.close() }

    var socketPath: String { "/run/mptcpctl/mptcpctld-\(lab.client).sock" }

    func start(_ policy: String = ControlAPIKernelTests.policy) throws -> Daemon {
        let daemon = try Daemon(namespace: lab.client, policy: policy)
        // Start-up (its first pass included) is over, and the socket answers:
        // the control server starts beside the endpoint thread, not after it.
        try daemon.waitRunning()
        try daemon.waitServing()
        return daemon
    }

    @Test func everyMethodAnswersOverTheSocket() throws {
        let daemon = try start()
        try daemon.waitUntil("the backup endpoint") { try PathManager(namespace: lab.clientNamespace).endpoints().count == 1 }
        var info = stat()
        #expect(stat(socketPath, &info) == 0 && info.st_mode & 0o777 == 0o660, "mode 0660")
        let c = try ControlClient(socketPath)

        let status = try c.result("status")
        #expect(status["api_version"] == 1)
        #expect(status["version"]?.stringValue == mptcpctlVersion)
        #expect(status["namespace"]?.stringValue == lab.client)
        #expect(status["path_manager"] == "kernel")
        #expect(status["config"]?.stringValue == daemon.configPath)
        #expect(status["owned_endpoints"] == 1)
        #expect(status["userspace_path_manager"] == false)
        #expect((status["uptime_seconds"].flatMap { if case .number(let d) = $0 { d } else { nil } } ?? -1) >= 0)

        let endpoints = try c.result("endpoints")
        #expect(endpoints.arrayValue?.count == 1)
        #expect(endpoints.arrayValue?.first?["address"] == "10.0.2.1")
        #expect(endpoints.arrayValue?.first?["interface"] == "a2")
        #expect(endpoints.arrayValue?.first?["owned"] == true)
        #expect(endpoints.arrayValue?.first?["flags"] == ["subflow", "backup"])

        let interfaces = try #require(try c.result("interfaces").arrayValue)
        let a2 = try #require(interfaces.first { $0["name"] == "a2" })
        #expect(a2["role"] == "backup" && a2["rule"] == 1 && a2["up"] == true)
        #expect(a2["addresses"]?.arrayValue?.contains("10.0.2.1/24") == true)
        #expect(interfaces.first { $0["name"] == "a1" }?["role"] == .null, "no block matches a1")

        let shown = try c.result("policy.show")
        #expect(shown["config"]?.stringValue == daemon.configPath)
        #expect(shown["policy"]?["interfaces"]?.arrayValue?.first?["role"] == "backup")
        #expect(shown["policy"]?["daemon"]?["resync_interval"] == 0)
        #expect(shown["policy"]?["hooks"]?["directory"] == "/etc/mptcpctl/hooks.d")

        let plan = try c.result("policy.plan")
        #expect(plan["pending"] == 0 && plan["changes"] == [])
        #expect(plan["text"]?.stringValue?.hasSuffix("no changes: the kernel matches the policy\n") == true)

        // A live connection shows, as sock_diag sees it.
        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", "7401"])
        defer { server.stop() }
        _ = try server.wait(for: "listening")
        let client = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", "7401"])
        defer { client.stop() }
        _ = try client.wait(for: "connected")
        let connections = try #require(try c.result("connections").arrayValue)
        let conn = try #require(connections.first { $0["remote_port"] == 7401 })
        #expect(conn["side"] == "client" && conn["remote_address"] == "10.0.1.2")
        #expect(conn["subflows"]?.arrayValue?.isEmpty == false)

        // Mutating methods, as root.
        #expect(try c.result("interface.notify", ["interface": "a2"]) == ["interface": "a2", "queued": true])
        #expect(try c.error("interface.notify", ["interface": "nosuch"])?.name == "invalid_params")
        #expect(try c.result("interface.notify") == ["interface": nil, "queued": true], "without one: every interface")
        #expect(try c.error("interface.notify", ["interface": "a2", "action": "no spaces"])?.name == "invalid_params")
        let published = try daemon.subscribe([.policy])
        #expect(try c.result("policy.reload")["reloading"] == true)
        try published.wait("the reload") { $0.type == "reloaded" && $0["config"] == daemon.configPath }
        #expect(try c.result("status")["reloads"] == 1)
        try "[[interface]]\nname = \"a2\"\nrole = \"sideways\"\n".write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let invalid = try #require(try c.error("policy.reload"))
        #expect(invalid.name == "invalid_policy" && invalid.message.contains("interface[1].role"), "\(invalid.message)")
        #expect(try c.result("status")["reloads"] == 1, "nothing applied")
        #expect(daemon.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: socketPath), "removed at exit")
    }

    @Test func theCLIShowsStatusAndReloadsThroughTheDaemon() throws {
        let none = try lab.mptcpctl(lab.client, ["status"], check: false)
        #expect(none.status == 1)
        #expect(none.stderr == "mptcpctl: no mptcpctld answers on \(socketPath): is it running? (--socket sets another path)\n")

        let daemon = try start()
        let text = try lab.mptcpctl(lab.client, ["status"]).stdout
        #expect(text.hasPrefix("daemon:           mptcpctld \(mptcpctlVersion) (API 1), pid \(daemon.process.processIdentifier), up "), "\(text)")
        #expect(text.contains("\nnamespace:        \(lab.client)\n"))
        #expect(text.contains("\npath manager:     kernel\n"))
        #expect(text.contains("\npolicy:           \(daemon.configPath), loaded "))
        let json = try lab.mptcpctl(lab.client, ["-j", "status"]).stdout
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(parsed["owned_endpoints"] as? Int == 1)
        // --socket instead of -n: the same daemon.
        #expect(try run(Repository.mptcpctl, ["--socket", socketPath, "status"]).stdout.contains("\nnamespace:        \(lab.client)\n"))
        #expect(try run(Repository.mptcpctl, ["status", "--socket", socketPath]).status == 0)

        let published = try daemon.subscribe([.policy])
        #expect(try lab.mptcpctl(lab.client, ["reload"]).stdout == "reloading \(daemon.configPath): no changes\n")
        try published.wait("the reload") { $0.type == "reloaded" && $0["config"] == daemon.configPath && $0["changes"] == "0" }
        try "[[interface]]\nname = \"a2\"\nrole = \"sideways\"\n".write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let refused = try lab.mptcpctl(lab.client, ["reload"], check: false)
        #expect(refused.status == 1)
        #expect(refused.stderrLines.first?.contains("interface[1].role: \"sideways\" is not one of") == true, "\(refused.stderr)")
        #expect(refused.stderrLines.last == "mptcpctl: the policy file is invalid: the daemon keeps the policy it runs")
        #expect(daemon.stop() == 0)
    }

    /// The NetworkManager dispatcher script, invoked as NetworkManager does
    /// (arguments and environment), makes the daemon re-examine the interface.
    @Test func theNetworkManagerHookMakesTheDaemonReexamineTheInterface() throws {
        // A daemon that acts on no rtnetlink notification: only the hook can tell it.
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy.replacingOccurrences(
            of: "[daemon]\n", with: "[daemon]\nsocket = \"@STATE@/api.sock\"\n"),
            environment: ["MPTCPCTLD_DEBUG_IGNORE_LINK_EVENTS": "1"])
        let notified = try daemon.subscribe([.interface])
        func isNotified(_ e: EventRecord) -> Bool { e.kind == .interface && e.type == "notified" }
        let hook = Repository.root.appendingPathComponent("config/networkmanager/90-mptcpctl").path
        func dispatch(_ interface: String, _ action: String) throws -> CommandResult {
            try run("/usr/bin/env", ["-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MPTCPCTL=\(Repository.mptcpctl)",
                                     "MPTCPCTL_SOCKET=\(daemon.stateDirectory)/api.sock", "NM_DISPATCHER_ACTION=\(action)",
                                     "DEVICE_IFACE=\(interface)", "CONNECTION_ID=lab", "CONNECTION_UUID=0b9f8a56-7f8e-4a0e-9d2c-2b6d1c5a7e11",
                                     hook, interface, action])
        }
        try daemon.waitUntil("the first endpoint") { try PathManager(namespace: lab.clientNamespace).endpoints().count == 1 }
        // An address the daemon was not told about stays unused...
        try lab.exec(lab.client, ["ip", "address", "add", "10.0.2.77/24", "dev", "a2"])
        Thread.sleep(forTimeInterval: 1)
        #expect(try PathManager(namespace: lab.clientNamespace).endpoints().map(\.address.description) == ["10.0.2.1"])
        // ...until NetworkManager's dispatcher runs the hook.
        #expect(try dispatch("a2", "dhcp4-change").status == 0)
        try notified.wait("the request") { isNotified($0) && $0["interface"] == "a2" && $0["action"] == "dhcp4-change" }
        try daemon.waitUntil("the new address's endpoint") {
            try PathManager(namespace: lab.clientNamespace).endpoints().map(\.address.description).sorted() == ["10.0.2.1", "10.0.2.77"]
        }
        #expect(try dispatch("a2", "up").status == 0)
        #expect(try dispatch("", "connectivity-change").status == 0)
        try notified.wait("every interface") { isNotified($0) && $0["interface"] == nil && $0["action"] == "connectivity-change" }
        #expect(try dispatch("a2", "hostname").status == 0, "other actions are ignored")
        #expect(try notified.all(isNotified).count == 3, "\(notified.described)")
        #expect(daemon.stop() == 0)
    }

    /// The userspace path manager's commands through the API, on a connection whose
    /// policy opens nothing itself, cross-checked with sock_diag and the peer's events.
    @Test func subflowsAndAnnouncementsThroughTheAPI() throws {
        let policy = Self.policy.replacingOccurrences(of: "resync_interval = 0\n", with: "resync_interval = 0\n[kernel]\npath_manager = \"userspace\"\n")
            + "\n[[connection]]\nname = \"manual\"\nstrategy = \"single\"\n"
        let daemon = try start(policy)
        let published = try daemon.subscribe([.action])
        /// What the daemon did because its policy did not want a subflow.
        func unwanted() throws -> [EventRecord] { try published.all { $0["reason"]?.contains("not wanted by manual") == true } }
        try MPTCPSysctl(namespace: lab.serverNamespace).setPathManager("userspace")
        let serverEvents = try EventLog(lab.serverNamespace)
        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", "7402"])
        defer { server.stop() }
        _ = try server.wait(for: "listening")
        let client = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", "7402"])
        defer { client.stop() }
        _ = try client.wait(for: "connected")
        client.send("send 1000")
        let c = try ControlClient(socketPath)
        var token = ""
        try daemon.waitUntil("the connection under its policy") {
            let list = try c.result("connections").arrayValue ?? []
            guard let conn = list.first(where: { $0["remote_port"] == 7402 }), conn["policy"] == "manual" else { return false }
            token = conn["token"]?.stringValue ?? ""
            return true
        }

        let made = try c.result("subflow.create", ["token": .string(token), "local": "10.0.2.1", "interface": "a2",
                                                   "remote": "10.0.1.2", "remote_port": 7402, "backup": true])
        #expect(made["local_id"] == 1 && made["backup"] == true)
        var port: Int64 = 0
        try daemon.waitUntil("the subflow") {
            let conn = try c.result("connections").arrayValue?.first { $0["remote_port"] == 7402 }
            let sub = conn?["subflows"]?.arrayValue?.first { $0["local_address"] == "10.0.2.1" }
            port = sub?["local_port"]?.integerValue ?? 0
            return sub?["interface"] == "a2" && sub?["backup"] == true
        }
        #expect(try c.result("subflow.set_backup", ["token": .string(token), "local": "10.0.2.1", "local_port": .integer(port),
                                                    "remote": "10.0.1.2", "remote_port": 7402, "backup": false]) == ["backup": false])
        _ = try serverEvents.wait("MP_PRIO") { $0.type == .subflowPriority && $0.backup == false }
        #expect(try unwanted().isEmpty, "the policy leaves a hand-made subflow alone: \(published.described)")
        #expect(try c.result("subflow.destroy", ["token": .string(token), "local": "10.0.2.1", "local_port": .integer(port),
                                                 "remote": "10.0.1.2", "remote_port": 7402]) == ["destroyed": true])
        #expect(try c.result("announce", ["token": .string(token), "address": "10.0.2.1", "id": 5]) == ["announced": true])
        _ = try serverEvents.wait("ANNOUNCED") { $0.type == .announced && $0.remoteID == 5 }
        #expect(try c.result("remove", ["token": .string(token), "id": 5]) == ["removed": true])
        _ = try serverEvents.wait("REMOVED") { $0.type == .removed && $0.remoteID == 5 }

        // Refusals: the kernel's words, or the parameter that is wrong.
        let unknown = try #require(try c.error("remove", ["token": "deadbeef", "id": 5]))
        #expect(unknown.name == "kernel_error" && unknown.message.contains("invalid token"), "\(unknown)")
        #expect(try c.error("subflow.create", ["token": .string(token), "local": "10.0.2.1", "remote": "10.0.1.2"])?.message
            == "params.remote_port: required")
        #expect(try c.error("announce", ["token": "xyz", "address": "10.0.2.1", "id": 5])?.message
            == "params.token: \"xyz\" is not 8 hex digits")
        #expect(try c.error("announce", ["token": .string(token), "address": "10.0.2.1", "id": 0])?.message
            == "params.id: 0 is outside 1...255")
        #expect(try c.error("subflow.create", ["token": .string(token), "local": "10.0.2.1", "interface": "nosuch",
                                               "remote": "10.0.1.2", "remote_port": 7402])?.name == "invalid_params")

        // The CLI goes through the daemon when it answers: no note, the policy name in
        // `connections`, and a subflow it makes is left alone by the policy too.
        let listed = try lab.mptcpctl(lab.client, ["-j", "connections"])
        #expect(listed.stderr.isEmpty)
        #expect(listed.stdout.contains("\"policy\":\"manual\""))
        let made2 = try lab.mptcpctl(lab.client, ["subflow", "create", "--token", token, "--local", "10.0.2.1", "--dev", "a2",
                                                  "--remote", "10.0.1.2:7402"])
        #expect(made2.stderr.isEmpty, "\(made2.stderr)")
        try daemon.waitUntil("the CLI's subflow") {
            (try c.result("connections").arrayValue?.first { $0["remote_port"] == 7402 }?["subflows"]?.arrayValue?.count) == 2
        }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try unwanted().isEmpty, "\(published.described)")
        let refused = try lab.mptcpctl(lab.client, ["remove", "--token", "deadbeef", "--id", "3"], check: false)
        #expect(refused.status == 1 && refused.stderr.contains("invalid token"), "\(refused.stderr)")
        #expect(daemon.stop() == 0)
        let direct = try lab.mptcpctl(lab.client, ["connections"])
        #expect(direct.stderr == "mptcpctl: note: no mptcpctld answers on \(socketPath); the kernel's view, without policies\n")
    }

    /// `mptcpctl metrics`: Prometheus text whose counters move with what happens.
    @Test func metricsParseAsPrometheusTextAndMove() throws {
        let policy = Self.policy.replacingOccurrences(of: "resync_interval = 0\n", with: "resync_interval = 0\n[kernel]\npath_manager = \"userspace\"\n")
            .replacingOccurrences(of: "name = \"a2\"", with: "name = [\"a1\", \"a2\"]")
        let daemon = try start(policy)
        func scrape() throws -> [String: Double] {
            let text = try lab.mptcpctl(lab.client, ["metrics"]).stdout
            var samples: [String: Double] = [:]
            for line in text.split(separator: "\n") {
                if line.hasPrefix("# TYPE ") || line.hasPrefix("# HELP ") { continue }
                // name{label="value",...} number
                let parts = line.split(separator: " ")
                #expect(parts.count == 2, "a sample line: \(line)")
                let name = String(parts[0])
                #expect(name.range(of: #"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})?$"#, options: .regularExpression) != nil,
                        "a Prometheus sample name: \(name)")
                samples[name] = Double(parts[1])
                #expect(samples[name] != nil, "a number: \(line)")
            }
            return samples
        }
        let before = try scrape()
        // The userspace path manager wants no in-kernel endpoint: none was added.
        #expect((before["mptcpctld_endpoint_changes_total{action=\"add\",result=\"ok\"}"] ?? 0) == 0)
        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", "7403"])
        defer { server.stop() }
        _ = try server.wait(for: "listening")
        let client = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", "7403"])
        defer { client.stop() }
        _ = try client.wait(for: "connected")
        client.send("send 1000")
        try daemon.waitUntil("a subflow created and counted") {
            (try scrape()["mptcpctld_pm_subflows_established_total"] ?? 0) >= 1
        }
        let after = try scrape()
        #expect((after["mptcpctld_kernel_events_total{type=\"established\"}"] ?? 0) >= 1)
        #expect((after["mptcpctld_pm_subflows_created_total"] ?? 0) >= 1)
        #expect(after["mptcpctld_managed_connections"] == 1)
        let metricsCalls = "mptcpctld_api_requests_total{method=\"metrics\",result=\"ok\"}"
        #expect((after[metricsCalls] ?? 0) > (before[metricsCalls] ?? 0))
        #expect(daemon.stop() == 0)
    }

    /// The subflow gauges count the daemon's namespace over HTTP too: the
    /// endpoint's thread never entered it, so reading "the current namespace"
    /// there counted the host's subflows.
    @Test func theHTTPEndpointsSubflowGaugesCountTheDaemonsNamespace() throws {
        let daemon = try start(Self.policy + "\n[metrics]\nlisten = \"127.0.0.1:19465\"\n")
        let python = try #require(Repository.python)
        func scrape() throws -> [String: Double] {
            let text = try lab.exec(lab.client, [python, "-c", """
                import urllib.request
                print(urllib.request.urlopen("http://127.0.0.1:19465/metrics", timeout=30).read().decode())
                """]).stdout
            var samples: [String: Double] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: " ")
                if parts.count == 2 { samples[String(parts[0])] = Double(parts[1]) }
            }
            return samples
        }
        try daemon.waitUntil("the metrics endpoint answers") { (try? scrape()) != nil }
        #expect(try scrape()["mptcpctld_active_subflows"] == 0)
        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", "7405"])
        defer { server.stop() }
        _ = try server.wait(for: "listening")
        let client = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", "7405"])
        defer { client.stop() }
        _ = try client.wait(for: "connected")
        try daemon.waitUntil("the connection's subflows counted over HTTP", seconds: 60) {
            (try scrape()["mptcpctld_active_subflows"] ?? 0) >= 1
        }
        // The same truth as `connections` (the server's side is in another namespace).
        let connections = try lab.mptcpctl(lab.client, ["-j", "connections"]).stdout
        let list = try JSONSerialization.jsonObject(with: Data(connections.utf8)) as? [[String: Any]] ?? []
        let established = list.flatMap { ($0["subflows"] as? [[String: Any]]) ?? [] }.filter { $0["state"] as? String == "established" }.count
        #expect(try scrape()["mptcpctld_active_subflows"] == Double(established), "\(connections)")
        #expect(daemon.stop() == 0)
    }

    /// Every family has HELP and TYPE, every declared counter series exists right
    /// after start-up at 0 (a dashboard tells "none yet" from "not exported"), and
    /// two scrapes list families, series and labels in the same order.
    @Test func metricsAreDescribedZeroFromStartUpAndInAFixedOrder() throws {
        let daemon = try start()
        let c = try ControlClient(socketPath)
        func scrape() throws -> [String] {
            try #require(try c.result("metrics")["text"]?.stringValue).split(separator: "\n").map(String.init)
        }
        /// Sample lines without their values: the series, in order.
        func series(_ lines: [String]) -> [String] {
            lines.filter { !$0.hasPrefix("#") }.compactMap { $0.split(separator: " ").first.map(String.init) }
        }
        let first = try scrape()
        let helped = Set(first.filter { $0.hasPrefix("# HELP ") }.map { $0.split(separator: " ")[2] })
        let typed = first.filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) }
        #expect(!typed.isEmpty && typed.allSatisfy { helped.contains(Substring($0)) }, "every family has # HELP: \(first)")
        #expect(typed == typed.sorted(), "families sorted by name")
        #expect(!first.contains { $0.hasPrefix("# HELP ") && $0.hasSuffix("(undescribed)") },
                "every family the daemon exports is declared with its help text: \(first.filter { $0.hasSuffix("(undescribed)") })")
        for line in first where !line.hasPrefix("#") {
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            #expect(typed.contains(name), "\(line) belongs to a family with # TYPE")
        }
        // Counters nothing has touched yet exist, at 0.
        for zero in ["mptcpctld_pm_subflows_failed_total 0", "mptcpctld_endpoint_changes_total{action=\"delete\",result=\"refused\"} 0",
                     "mptcpctld_hook_runs_total{result=\"timeout\"} 0", "mptcpctld_kernel_events_total{type=\"sub_closed\"} 0",
                     "mptcpctld_api_requests_total{method=\"subflow.create\",result=\"ok\"} 0",
                     "mptcpctld_interface_notifications_lost_total 0", "mptcpctld_hook_events_dropped_total 0"] {
            #expect(first.contains(zero), "\(zero)")
        }
        // Labels in the declared order; the same series in the same order at the next scrape.
        #expect(first.contains("mptcpctld_endpoint_changes_total{action=\"add\",result=\"ok\"} 1"))
        let second = try scrape()
        #expect(series(second) == series(first), "same series, same order")
        // New series (an error result, a kernel event) take their sorted place; the others keep theirs.
        #expect(try c.error("subscribe", ["kinds": "policy"])?.name == "invalid_params")
        let python = try #require(Repository.python)
        try lab.exec(lab.client, [python, "-c", """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262); s.bind(("127.0.0.1", 7404)); s.listen(); s.close()
            """])
        try daemon.waitUntil("the listener counted") {
            try scrape().contains("mptcpctld_kernel_events_total{type=\"listener_closed\"} 1")
        }
        let third = try scrape()
        #expect(series(third).filter { series(first).contains($0) } == series(first), "the earlier series keep their order")
        #expect(series(third).contains("mptcpctld_api_requests_total{method=\"subscribe\",result=\"invalid_params\"}"))
        for family in Set(series(third).map { String($0.prefix { $0 != "{" }) }) {
            let inFamily = series(third).filter { $0.prefix { $0 != "{" } == family }
            #expect(inFamily == inFamily.sorted(), "series of \(family) sorted")
        }
        #expect(daemon.stop() == 0)
    }

    @Test func badRequestsGetErrorsAndTheNextRequestIsAnswered() throws {
        let daemon = try start()
        let c = try ControlClient(socketPath)
        let cases: [(String, String)] = [
            ("{not json", "parse_error"),
            ("[]", "invalid_request"),
            (#"{"jsonrpc":"2.0","id":1}"#, "invalid_request"),
            (#"{"jsonrpc":"2.0","id":1,"method":"launch"}"#, "unknown_method"),
            (#"{"jsonrpc":"2.0","id":1,"method":"status","params":{"x":1}}"#, "invalid_params"),
            (#"{"jsonrpc":"2.0","id":1,"method":"interface.notify","params":{"interface":5}}"#, "invalid_params"),
            (#"{"jsonrpc":"2.0","id":1,"method":"status","params":[1]}"#, "invalid_params"),
        ]
        for (text, code) in cases {
            c.send(Array((text + "\n").utf8))
            let line = try #require(c.readLine(), "an answer to \(text)")
            guard case .failure(let e) = try RPCWire.decodeResponse(line).outcome else {
                Issue.record("accepted: \(text)")
                continue
            }
            #expect(e.name == code, "\(text): \(e)")
        }
        // Nesting deep enough to exhaust a recursive parser's stack: an error, not a crash.
        c.send([UInt8](repeating: 0x5B, count: 30_000) + [0x0A])
        let deep = try #require(c.readLine())
        #expect(try RPCWire.decodeResponse(deep).outcome.failure?.name == "parse_error")
        // A notification runs and gets no answer: the next line is the next request's.
        c.send(Array(#"{"jsonrpc":"2.0","method":"status"}"#.utf8) + [0x0A])
        #expect(try c.call("status", id: "after")["api_version"] == 1)

        // Oversized: an error, then the connection is closed; the daemon serves the next one.
        let big = ControlClient.init
        let d = try big(socketPath)
        d.send([UInt8](repeating: 0x20, count: controlRequestLimit + 10) + [0x0A])
        let refused = try #require(d.readLine())
        guard case .failure(let e) = try RPCWire.decodeResponse(refused).outcome else {
            Issue.record("an oversized request was accepted")
            return
        }
        #expect(e.name == "request_too_large")
        #expect(d.readLine() == nil, "closed")
        #expect(try ControlClient(socketPath).result("status")["api_version"] == 1)
        #expect(daemon.isRunning)
    }

    @Test func the65thClientIsRefusedCleanly() throws {
        let daemon = try start()
        var clients: [ControlClient] = []
        for _ in 0..<64 {
            let c = try ControlClient(socketPath)
            #expect(try c.result("status")["api_version"] == 1)
            clients.append(c)
        }
        let extra = try ControlClient(socketPath)
        let line = try #require(extra.readLine())
        guard case .failure(let e) = try RPCWire.decodeResponse(line).outcome else {
            Issue.record("the 65th client was served")
            return
        }
        #expect(e.name == "too_many_clients")
        #expect(extra.readLine() == nil, "closed")
        clients.removeLast()
        try daemon.waitUntil("a slot is free again") {
            (try? ControlClient(socketPath).result("status")["api_version"]) == 1
        }
        #expect(daemon.isRunning)
    }

    /// A client that sends without ever reading its answers is paused, not
    /// buffered for; others are still answered.
    @Test func aClientThatNeverReadsDoesNotStallOthers() throws {
        let daemon = try start()
        let greedy = try ControlClient(socketPath)
        var nonBlocking = fcntl(greedy.fd, F_GETFL)
        nonBlocking |= O_NONBLOCK
        _ = fcntl(greedy.fd, F_SETFL, nonBlocking)
        let request = RPCWire.encode(RPCRequest(id: 1, method: "interfaces"))
        // Many requests per send: a Unix socket's buffer counts each send's overhead.
        let chunk = [[UInt8]](repeating: request, count: 1000).flatMap { $0 }
        var sent = 0
        for _ in 0..<100 {
            let n = chunk.withUnsafeBytes { send(greedy.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        #expect(sent > 0)
        // Given time, the daemon would answer all of them (~\(sent / request.count)) if it read on.
        Thread.sleep(forTimeInterval: 2)
        let other = try ControlClient(socketPath)
        let answered = try #require(try other.result("status")["api_requests"]?.integerValue)
        #expect(answered < Int64(sent / request.count) / 2, "answered \(answered) of \(sent / request.count) sent")
        let rss = try String(contentsOfFile: "/proc/\(daemon.process.processIdentifier)/status", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? 0
        #expect(!Sanitizer.checksMemory || rss < 200_000, "RSS \(rss) kB")
        #expect(daemon.stop() == 0)
    }

    @Test func anUnprivilegedUserReadsButChangesNothing() throws {
        // A python the unprivileged user can run (pyenv's lives under /root).
        let python = try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : Repository.python)
        // Whoever connects as uid/gid 65534 ("nobody"/"nogroup"): socket_group lets it connect.
        let group = try #require(getgrgid(65534)).pointee.gr_name.map { String(cString: $0) } ?? "nogroup"
        let daemon = try start(Self.policy.replacingOccurrences(of: "[daemon]\n", with: "[daemon]\nsocket_group = \"\(group)\"\n"))
        let script = """
            import json, socket, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rwb")
            for i, m in enumerate(sys.argv[2:]):
                params = {"interface": "a2"} if m == "interface.notify" else {}
                f.write((json.dumps({"jsonrpc": "2.0", "id": i, "method": m, "params": params}) + "\\n").encode()); f.flush()
                r = json.loads(f.readline())
                print(m, "ok" if "result" in r else r["error"]["data"]["code"])
            """
        let methods = ["status", "connections", "endpoints", "interfaces", "policy.show", "policy.plan", "metrics", "policy.reload", "interface.notify",
                       "subflow.create", "subflow.destroy", "subflow.set_backup", "announce", "remove", "subscribe"]
        let published = try daemon.subscribe([.policy])
        func asNobody() throws -> [String] {
            let out = try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", python, "-c", script,
                                                       socketPath] + methods).stdout
            return out.split(separator: "\n").map(String.init)
        }
        #expect(try asNobody() == ["status ok", "connections ok", "endpoints ok", "interfaces ok", "policy.show ok", "policy.plan ok", "metrics ok",
                                   "policy.reload permission_denied", "interface.notify permission_denied",
                                   "subflow.create permission_denied", "subflow.destroy permission_denied",
                                   "subflow.set_backup permission_denied", "announce permission_denied", "remove permission_denied",
                                   "subscribe ok"])
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try published.all { $0.type == "reloaded" }.isEmpty, "\(published.described)")
        #expect(try ControlClient(socketPath).result("status")["reloads"] == 0)
        #expect(daemon.stop() == 0)

        // admin_group admits it to the mutating methods.
        let admin = try start(Self.policy.replacingOccurrences(
            of: "[daemon]\n", with: "[daemon]\nsocket_group = \"\(group)\"\nadmin_group = \"\(group)\"\n"))
        #expect(try asNobody()[7...8] == ["policy.reload ok", "interface.notify ok"])
        #expect(admin.stop() == 0)
    }

    @Test func anUnknownGroupStopsTheDaemonAtStartUp() throws {
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy.replacingOccurrences(
            of: "[daemon]\n", with: "[daemon]\nadmin_group = \"no-such-group-x\"\n"))
        try daemon.waitUntil("it exits") { !daemon.isRunning }
        #expect(daemon.process.terminationStatus == 1)
        #expect(daemon.log.contains("daemon.admin_group: no group \"no-such-group-x\" on this system"), "\(daemon.log)")
    }

    @Test func aSecondDaemonOnTheSameSocketIsRefusedAndAKilledOnesSocketIsReplaced() throws {
        let first = try start()
        let second = try Daemon(namespace: lab.client, policy: Self.policy)
        try second.waitUntil("it exits") { !second.isRunning }
        #expect(second.log.contains("another daemon serves"), "\(second.log)")
        #expect(try ControlClient(socketPath).result("status")["pid"] == .integer(Int64(first.process.processIdentifier)))
        first.kill()
        #expect(FileManager.default.fileExists(atPath: socketPath), "SIGKILL leaves the file")
        let third = try start()
        #expect(try ControlClient(socketPath).result("status")["pid"] == .integer(Int64(third.process.processIdentifier)))
        #expect(third.stop() == 0)
    }
}

extension Result where Success == JSONValue {
    subscript(key: String) -> JSONValue? { (try? get())?[key] }
}
