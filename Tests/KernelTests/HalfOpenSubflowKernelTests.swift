import Foundation
import MPTCPAPI
import MPTCPKit
import Testing

/// Joins that get no answer: the server drops every SYN from the client's path-2
/// address (nftables; links stay up), so a join from 10.0.2.1 stays in syn-sent.
/// Such a subflow is pending, never asked for twice, destroyed at its join
/// timeout and retried after a backoff as a counted failure; and it shows as
/// `syn-sent`, never counted as carrying traffic, wherever connections are shown.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class HalfOpenSubflowKernelTests {
    let lab: Lab

    init() throws {
        lab = try Lab(paths: 3)
        try lab.mptcpctl(lab.server, ["limits", "set", "--subflows", "8", "--add-addr-accepted", "8"])
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft") else {
            throw LabError("/usr/sbin/nft is missing (Debian's nftables; `make deps` installs it)")
        }
        // Gone with the server's namespace.
        try lab.exec(lab.server, ["nft", """
            add table inet halfopen; \
            add chain inet halfopen input { type filter hook input priority 0; }; \
            add rule inet halfopen input ip saddr 10.0.2.1 tcp flags syn counter drop
            """])
    }

    deinit { lab.close() }

    static let fullmesh = UserspaceDaemonKernelTests.base + """

        [[connection]]
        name = "mesh"
        strategy = "fullmesh"
        """

    func server(_ port: Int) throws -> Peer {
        let s = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", String(port)])
        _ = try s.wait(for: "listening")
        return s
    }

    func client(_ port: Int) throws -> Peer {
        let c = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", String(port)])
        _ = try c.wait(for: "connected")
        c.send("send 1000")  // the client is ESTABLISHED once data flowed
        return c
    }

    /// The client's subflows of the connection to `port`, as sock_diag shows them.
    func subflows(_ port: Int) throws -> [Subflow] {
        try ConnectionTable.read(namespace: lab.clientNamespace).first { $0.remotePort == UInt16(port) }?.subflows ?? []
    }

    /// How many SYNs from 10.0.2.1 the server dropped.
    func droppedJoins() throws -> Int {
        let rules = try lab.exec(lab.server, ["nft", "list", "chain", "inet", "halfopen", "input"]).stdout
        guard let range = rules.range(of: #"packets (\d+)"#, options: .regularExpression) else { return 0 }
        return Int(rules[range].split(separator: " ")[1]) ?? 0
    }

    /// Values in one `mptcpctl metrics` scrape (0 when absent).
    func metrics(_ names: String...) throws -> [Double] {
        let lines = try lab.mptcpctl(lab.client, ["metrics"]).stdout.split(separator: "\n")
        return names.map { name in
            lines.first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) } ?? 0
        }
    }

    func metric(_ name: String) throws -> Double { try metrics(name)[0] }

    @Test func fullmeshNeverHoldsTwoHalfOpenSubflowsPerPairWhileJoinsGetNoAnswer() throws {
        // The default retry (join_timeout 7 s, backoff from 200 ms): several retries in 30 s.
        let daemon = try Daemon(namespace: lab.client, policy: Self.fullmesh)
        try daemon.waitRunning()
        let published = try daemon.subscribe([.action])
        let s = try server(7601)
        defer { s.stop() }
        let c = try client(7601)
        defer { c.stop() }

        // 30 s sampled every 0.5 s: never two joins under way for one local/remote pair.
        var violations: [String] = []
        var halfOpenPorts: Set<UInt16> = []
        let end = Date().addingTimeInterval(30)
        let start = Date()
        while Date() < end {
            var perPair: [String: [UInt16]] = [:]
            for sf in try subflows(7601) where sf.state.isHandshaking {
                perPair["\(sf.localAddress)->\(sf.remoteAddress):\(sf.remotePort)", default: []].append(sf.localPort)
                halfOpenPorts.insert(sf.localPort)
            }
            for (pair, ports) in perPair where ports.count > 1 {
                violations.append(String(format: "%.1f s: %@ half-open from ports %@", Date().timeIntervalSince(start), pair, "\(ports)"))
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
        #expect(violations.isEmpty, "at most one half-open subflow per pair: \(violations)")

        #expect(try droppedJoins() > 0, "the joins from 10.0.2.1 were dropped")
        #expect(try subflows(7601).contains { $0.localAddress == IPAddress("10.0.3.1") && $0.carriesTraffic },
                "the join over the working path is established")
        #expect(halfOpenPorts.count >= 3, "the stuck join was destroyed and tried again, each time from a new port: \(halfOpenPorts)")
        // Each timeout: counted, logged as a failure with its attempt, the subflow
        // destroyed, and the next attempt logged as a retry after a backoff.
        let counted = try metrics("mptcpctld_pm_subflows_failed_total", "mptcpctld_pm_joins_timed_out_total")
        #expect(counted[0] >= 2, "\(counted)")
        #expect(counted[0] == counted[1], "each timeout counted once, the close of the destroyed subflow not again: \(counted)")
        let failures = try published.all {
            $0.type == "subflow_failed" && $0["error"] == "join timed out" && $0["local"]?.hasPrefix("10.0.2.1") == true
        }
        #expect(failures.count >= 2, "\(published.described)")
        #expect(failures.compactMap { $0["attempt"] }.prefix(2) == ["1", "2"], "attempts count up: \(failures)")
        #expect(failures.allSatisfy { Int($0["retry_in_ms"] ?? "") ?? 0 >= 200 }, "the retry backs off (initial 200 ms)")
        #expect(try published.all { $0.type == "subflow_destroyed" && $0["local_address"] == "10.0.2.1" }.count >= 2, "\(published.described)")
        #expect(try published.all { $0.type == "subflow_requested" && $0["local_address"] == "10.0.2.1" && $0["retry"] != nil }.count >= 2,
                "each retry requested as one: \(published.described)")
        #expect(daemon.stop() == 0)
    }

    /// Two requests from one local address to one peer address (the peer announced
    /// its address again on port 7700): the join to 7700 stays in syn-sent (its SYNs
    /// dropped) while the one to the connection's port is established. The peer
    /// closing the established subflow is a path that closed, not the failed join of
    /// the other request: that request stays pending, nothing is counted failed, and
    /// no second join to 7700 goes out beside the first.
    @Test func anEstablishedSubflowClosingLeavesAnotherRequestToThatAddressPending() throws {
        let port = 7621, announcedPort = 7700
        try lab.exec(lab.server, ["nft", "add rule inet halfopen input ip saddr 10.0.3.1 tcp dport \(announcedPort) tcp flags syn counter drop"])
        try MPTCPSysctl(namespace: lab.serverNamespace).setPathManager("userspace")
        let daemon = try Daemon(namespace: lab.client, policy: Self.fullmesh + "\nretry = { join_timeout = \"60s\" }\n")
        try daemon.waitRunning()
        let published = try daemon.subscribe([.action])
        let s = try server(port)
        defer { s.stop() }
        let listener = try LineProcess(Repository.mptcpctl, ["-n", lab.server, "listen", "10.0.1.2", String(announcedPort)])
        defer { _ = listener.stop() }
        _ = try listener.waitForLine("the listening line") { $0.hasPrefix("listening on") }
        let c = try client(port)
        defer { c.stop() }
        let from3 = IPAddress("10.0.3.1")!
        func joins(_ remotePort: Int) throws -> [Subflow] {
            try subflows(port).filter { $0.localAddress == from3 && $0.remotePort == UInt16(remotePort) }
        }
        let serverConnection = { try ConnectionTable.read(namespace: self.lab.serverNamespace).first { $0.localPort == UInt16(port) } }
        let token = try #require(try serverConnection()?.token)
        try lab.mptcpctl(lab.server, ["announce", "--token", formatToken(token), "--address", "10.0.1.2", "--id", "5",
                                      "--port", String(announcedPort)])
        try daemon.waitUntil("10.0.3.1's join to 7700 in syn-sent and its join to \(port) established", seconds: 20) {
            try joins(announcedPort).contains { $0.state == .synSent } && joins(port).contains(where: \.carriesTraffic)
        }
        let stuck = try joins(announcedPort).map(\.localPort)
        let established = try #require(try joins(port).first(where: \.carriesTraffic))
        let failedBefore = try metric("mptcpctld_pm_subflows_failed_total")

        // The peer closes the established subflow (a path going away).
        try lab.mptcpctl(lab.server, ["subflow", "destroy", "--token", formatToken(token), "--local", "10.0.1.2:\(port)",
                                      "--remote", "10.0.3.1:\(established.localPort)"])
        // Destroyed once more: the kernel has no such subflow, and MPTCPKit classifies
        // the answer so (what the daemon tells from a destroy that left a subflow alive).
        let serverPM = try PathManager(namespace: lab.serverNamespace)
        do {
            try serverPM.destroySubflow(
                token: token, local: AddressAndPort(address: IPAddress("10.0.1.2")!, port: UInt16(port)),
                remote: AddressAndPort(address: from3, port: established.localPort))
            Issue.record("a subflow destroyed twice")
        } catch {
            #expect(error.isNoSuchSubflow, "\(error)")
        }
        try daemon.waitUntil("the path asked for again and established", seconds: 20) {
            try joins(port).contains { $0.carriesTraffic && $0.localPort != established.localPort }
        }
        // Longer than the backoff a failure would have: a wrongly failed request would be asked for again by now.
        var halfOpen: [[UInt16]] = []
        for _ in 0..<6 {
            halfOpen.append(try joins(announcedPort).filter { $0.state.isHandshaking }.map(\.localPort))
            Thread.sleep(forTimeInterval: 0.5)
        }
        #expect(halfOpen.allSatisfy { $0 == stuck }, "the one join to 7700, never a second: \(stuck) then \(halfOpen)")
        #expect(try metric("mptcpctld_pm_subflows_failed_total") == failedBefore, "a path close is no failed join: \(daemon.log)")
        let asked = try published.all {
            $0.type == "subflow_requested" && $0["local_address"] == "10.0.3.1" && $0["remote_address"] == "10.0.1.2"
                && $0["remote_port"] == String(announcedPort)
        }
        #expect(asked.count == 1, "asked for once: \(published.described)")
        #expect(daemon.stop() == 0)
    }

    @Test func aSubflowInSynSentShowsItsStateAndIsNotCountedInTheCLIOrTheAPI() throws {
        // The kernel keeps resending the stuck SYN for minutes: the state holds while looked at.
        try lab.exec(lab.client, ["sysctl", "-qw", "net.ipv4.tcp_syn_retries=12"])
        try lab.mptcpctl(lab.client, ["path-manager", "set", "userspace"])
        let s = try server(7611)
        defer { s.stop() }
        let c = try client(7611)
        defer { c.stop() }
        c.send("info")
        let token = try #require(try c.wait(for: "info")["token"] as? String)
        // Without the daemon: two joins by hand (as the policy would make them: a3 is
        // a backup interface); the one from 10.0.2.1 gets no answer.
        try lab.mptcpctl(lab.client, ["subflow", "create", "--token", token, "--local", "10.0.2.1", "--remote", "10.0.1.2:7611"])
        try lab.mptcpctl(lab.client, ["subflow", "create", "--token", token, "--local", "10.0.3.1", "--remote", "10.0.1.2:7611", "--backup"])
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, try !(subflows(7611).contains { $0.localAddress == IPAddress("10.0.3.1") && $0.carriesTraffic }) {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let stuck = try #require(try subflows(7611).first { $0.localAddress == IPAddress("10.0.2.1") })
        #expect(stuck.state == .synSent)

        // The CLI, from the kernel alone.
        func expectHumanView(_ text: String, policy: String?) {
            let lines = text.split(separator: "\n")
            #expect(lines.first?.contains("STATE") == true, "\(text)")
            let connection = lines.first { $0.hasPrefix(token) }
            #expect(connection?.contains("2 subflows (+1 not established)") == true, "only established subflows count: \(text)")
            if let policy { #expect(connection?.hasSuffix("policy \(policy)") == true, "\(text)") }
            let half = lines.first { $0.contains("10.0.2.1:\(stuck.localPort)") }
            #expect(half?.contains(" syn-sent ") == true && half?.hasSuffix(" -") == true, "syn-sent, not active: \(text)")
            let working = lines.first { $0.contains("10.0.3.1:") }
            #expect(working?.contains(" established ") == true && working?.hasSuffix(" backup") == true, "\(text)")
        }
        expectHumanView(try lab.mptcpctl(lab.client, ["connections"]).stdout, policy: nil)
        let alone = try connectionObject(try lab.mptcpctl(lab.client, ["connections", "--json"]).stdout, token)
        expectStates(alone)

        // The daemon adopts the connection: the join under way is pending, not asked for again.
        let daemon = try Daemon(namespace: lab.client, policy: Self.fullmesh + "\nretry = { join_timeout = \"60s\" }\n")
        try daemon.waitRunning()  // READY=1 comes after start-up adoption
        // From start-up on: adoption happened before any client could subscribe.
        let published = try daemon.subscribe([.action, .resync], startUp: true)
        try published.first("the start-up adoption") { $0.kind == .resync }
        Thread.sleep(forTimeInterval: 1)
        #expect(try subflows(7611).filter { $0.localAddress == IPAddress("10.0.2.1") }.map(\.localPort) == [stuck.localPort],
                "one join from 10.0.2.1, the one made by hand")
        #expect(try published.all { $0.type == "subflow_requested" && $0["local_address"] == "10.0.2.1" }.isEmpty,
                "\(published.described)")

        expectHumanView(try lab.mptcpctl(lab.client, ["connections"]).stdout, policy: "mesh")
        var viaCLI = try connectionObject(try lab.mptcpctl(lab.client, ["connections", "--json"]).stdout, token)
        expectStates(viaCLI)
        #expect(viaCLI.removeValue(forKey: "policy") as? String == "mesh")
        let api = try ControlClient("/run/mptcpctl/mptcpctld-\(lab.client).sock").result("connections")
        var viaAPI = try connectionObject(RPCWire.text(api), token)
        expectStates(viaAPI)
        #expect(viaAPI.removeValue(forKey: "policy") as? String == "mesh")
        // One schema, one truth: the same object with and without the daemon, and from the API.
        #expect(NSDictionary(dictionary: alone).isEqual(to: viaCLI), "CLI alone \(alone) vs with the daemon \(viaCLI)")
        #expect(NSDictionary(dictionary: alone).isEqual(to: viaAPI), "CLI alone \(alone) vs the API \(viaAPI)")
        #expect(try metric("mptcpctld_active_subflows") == 2, "the initial subflow and 10.0.3.1's")
        #expect(try metric("mptcpctld_pending_subflows") == 1, "the join under way")
        #expect(daemon.stop() == 0)
    }

    /// The connection object with `token` in a JSON array of connections.
    /// Its live figures (each subflow's tcp_info members, the `mptcp` object's values: counters and ages that move
    /// between two readings) become a placeholder, so that readings compare by schema and state.
    func connectionObject(_ json: String, _ token: String) throws -> [String: Any] {
        let all = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]], "\(json)")
        var connection = try #require(all.first { $0["token"] as? String == token }, "\(json)")
        let figures = Set(SubflowFigures.members.map(\.key))
        connection["subflows"] = (connection["subflows"] as? [[String: Any]])?.map { subflow in
            subflow.reduce(into: [String: Any]()) { $0[$1.key] = figures.contains($1.key) ? "figure" : $1.value }
        }
        connection["mptcp"] = (connection["mptcp"] as? [String: Any])?.mapValues { _ in "figure" }
        return connection
    }

    func expectStates(_ connection: [String: Any]) {
        let subflows = connection["subflows"] as? [[String: Any]] ?? []
        let states = Dictionary(subflows.map { ($0["local_address"] as? String ?? "?", $0["state"] as? String ?? "none") },
                                uniquingKeysWith: { a, b in a + "," + b })
        #expect(states == ["10.0.1.1": "established", "10.0.2.1": "syn-sent", "10.0.3.1": "established"], "\(connection)")
    }
}
