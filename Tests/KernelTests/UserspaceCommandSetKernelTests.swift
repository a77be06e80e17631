import Foundation
import MPTCPKit
import Testing

/// The userspace-PM command set end to end between two namespaces, as the
/// kernel's own selftests (userspace_pm.sh with pm_nl_ctl) drive it: announce
/// with and without port and device, listeners opened by `mptcpctl listen` and
/// by the daemon, joins to every announced address and port, remove, subflow
/// create/destroy/set-backup from both sides, IPv4 and IPv6; and `monitor
/// --kernel --json` shows every event with every attribute the kernel sent.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class UserspaceCommandSetKernelTests {
    let lab: Lab

    init() throws {
        lab = try Lab(paths: 3)
    }

    /// An ADD_ADDR for IPv6 with a port (30 bytes) does not fit next to TCP
    /// timestamps; 6.18 drops it (MPTcpExtAddAddrTxDrop) where newer kernels have
    /// `add_addr_v6_port_drop_ts`. The IPv6 runs go without timestamps.
    func withoutTimestampsForIPv6(_ v6: Bool) throws {
        guard v6 else { return }
        for ns in [lab.client, lab.server] { try lab.exec(ns, ["sysctl", "-qw", "net.ipv4.tcp_timestamps=0"]) }
    }

    deinit { lab.close() }

    func a(_ path: Int, _ v6: Bool) -> IPAddress { lab.address("a", path: path, v6: v6) }
    func b(_ path: Int, _ v6: Bool) -> IPAddress { lab.address("b", path: path, v6: v6) }
    func at(_ address: IPAddress, _ port: Int) -> String { AddressAndPort(address: address, port: UInt16(port)).description }

    @Test(arguments: [false, true])
    func theCommandSetWorksFromBothSidesAndTheMonitorShowsEveryAttribute(v6: Bool) throws {
        try MPTCPSysctl(namespace: lab.clientNamespace).setPathManager("userspace")
        try MPTCPSysctl(namespace: lab.serverNamespace).setPathManager("userspace")
        try withoutTimestampsForIPv6(v6)
        let client = try EventRecorder(lab.clientNamespace), server = try EventRecorder(lab.serverNamespace)
        let clientMonitor = try LineProcess(Repository.mptcpctl, ["-n", lab.client, "monitor", "--kernel", "--json"])
        let serverMonitor = try LineProcess(Repository.mptcpctl, ["-n", lab.server, "monitor", "--kernel", "--json"])
        defer { clientMonitor.stop(); serverMonitor.stop() }
        // From here on the monitors see what the recorders see.
        let clientFrom = try synchronise(clientMonitor, client, namespace: lab.client, address: a(1, v6))
        let serverFrom = try synchronise(serverMonitor, server, namespace: lab.server, address: b(1, v6))

        // The application listens on the path-1 address only: a join to another
        // address needs a listener of its own.
        let port = 6100
        let app = try lab.peer(lab.server, ["server", "--bind", b(1, v6).description, "--port", String(port)])
        defer { app.stop() }
        _ = try app.wait(for: "listening")
        let conn = try lab.peer(lab.client, ["client", "--connect", b(1, v6).description, "--port", String(port)])
        defer { conn.stop() }
        _ = try conn.wait(for: "connected")
        conn.send("send 1000")
        let tc = try #require(try client.first("established") { $0.type == .established }.token)
        let ts = try #require(try server.first("established") { $0.type == .established && $0.isServerSide }.token)
        let ctoken = formatToken(tc), stoken = formatToken(ts)

        // Announce without a port, with a device: the kernel stores the interface with the address.
        try lab.mptcpctl(lab.server, ["announce", "--token", stoken, "--address", b(2, v6).description, "--id", "5", "--dev", "b2"])
        let announced = try client.first("ADD_ADDR of path 2") { $0.type == .announced && $0.remoteID == 5 }
        #expect(announced.remoteAddress == b(2, v6) && announced.remotePort == UInt16(port), "no port: the connection's")
        let b2 = try #require(try InterfaceTable.read(namespace: lab.serverNamespace).index(of: "b2"))
        let stored = try PathManager(namespace: lab.serverNamespace).addresses(token: ts).first { $0.id == 5 }
        #expect(stored?.address == b(2, v6))
        #expect(stored?.interfaceIndex == b2, "IF_IDX went with the announcement")

        // A join to it is refused while nothing listens there (the userspace PM opens no listener) ...
        try lab.mptcpctl(lab.client, ["subflow", "create", "--token", ctoken, "--local", a(2, v6).description,
                                      "--remote", at(b(2, v6), port)])
        let refused = try client.first("the refused join") { $0.type == .subflowClosed && $0.remoteAddress == b(2, v6) }
        #expect(refused.error == UInt8(ECONNREFUSED))
        // ... and accepted once `mptcpctl listen` holds one.
        let listen2 = try LineProcess(Repository.mptcpctl, ["-n", lab.server, "listen", b(2, v6).description, String(port)])
        defer { listen2.stop() }
        _ = try listen2.waitForLine("the listening line") { $0.hasPrefix("listening on \(at(b(2, v6), port))") }
        try lab.mptcpctl(lab.client, ["subflow", "create", "--token", ctoken, "--local", a(2, v6).description,
                                      "--remote", at(b(2, v6), port)])
        let join2 = try client.first("the join to path 2") { $0.type == .subflowEstablished && $0.remoteAddress == b(2, v6) }
        let sport2 = try #require(join2.localPort)
        _ = try server.first("the join to path 2 on the server") { $0.type == .subflowEstablished && $0.localAddress == b(2, v6) }

        // Announce with a port and a device; `listen --json` holds the listener for it.
        let port3 = 6300
        try lab.mptcpctl(lab.server, ["announce", "--token", stoken, "--address", b(3, v6).description, "--id", "6",
                                      "--port", String(port3), "--dev", "b3"])
        let announced3 = try client.first("ADD_ADDR of path 3") { $0.type == .announced && $0.remoteID == 6 }
        #expect(announced3.remoteAddress == b(3, v6) && announced3.remotePort == UInt16(port3))
        let listen3 = try LineProcess(Repository.mptcpctl, ["-n", lab.server, "listen", "--json", b(3, v6).description, String(port3)])
        defer { listen3.stop() }
        let line = try listen3.waitForLine("the JSON listening line") { $0.contains("listening") }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["listening"] as? Bool == true && object["port"] as? Int == port3 && object["address"] as? String == b(3, v6).description)
        try lab.mptcpctl(lab.client, ["subflow", "create", "--token", ctoken, "--local", a(3, v6).description, "--dev", "a3",
                                      "--remote", at(b(3, v6), port3)])
        let join3 = try client.first("the join to path 3's port") {
            $0.type == .subflowEstablished && $0.remoteAddress == b(3, v6) && $0.remotePort == UInt16(port3)
        }
        #expect(join3.interfaceIndex != nil && join3.interfaceIndex != 0, "a subflow bound to a3 carries if_idx")
        let sport3 = try #require(join3.localPort)
        _ = try server.first("the join to path 3 on the server") { $0.type == .subflowEstablished && $0.localPort == UInt16(port3) }

        // Backup from the client's side, then from the server's: MP_PRIO reaches the other one.
        try lab.mptcpctl(lab.client, ["subflow", "set", "--token", ctoken, "--local", at(a(3, v6), Int(sport3)),
                                      "--remote", at(b(3, v6), port3), "--backup"])
        _ = try server.first("MP_PRIO from the client") { $0.type == .subflowPriority && $0.backup == true && $0.localPort == UInt16(port3) }
        try lab.mptcpctl(lab.server, ["subflow", "set", "--token", stoken, "--local", at(b(3, v6), port3),
                                      "--remote", at(a(3, v6), Int(sport3)), "--backup"])
        _ = try client.first("MP_PRIO from the server") { $0.type == .subflowPriority && $0.backup == true && $0.localPort == sport3 }

        // Destroy from the client's side, then withdraw the address from the server's.
        try lab.mptcpctl(lab.client, ["subflow", "destroy", "--token", ctoken, "--local", at(a(2, v6), Int(sport2)),
                                      "--remote", at(b(2, v6), port)])
        _ = try server.first("the client's destroy on the server") { $0.type == .subflowClosed && $0.localAddress == b(2, v6) }
        try lab.mptcpctl(lab.server, ["remove", "--token", stoken, "--id", "5"])
        _ = try client.first("RM_ADDR of id 5") { $0.type == .removed && $0.remoteID == 5 }

        // The client announces an address with a port it listens on (a join to a
        // port other than the connection's must have been announced: the kernel
        // counts it as MismatchPortSynRx and refuses it otherwise); the server
        // opens a subflow to it, and destroys it.
        let clientPort = 6200
        let listenClient = try LineProcess(Repository.mptcpctl, ["-n", lab.client, "listen", a(2, v6).description, String(clientPort)])
        defer { listenClient.stop() }
        _ = try listenClient.waitForLine("the client's listening line") { $0.hasPrefix("listening on") }
        let clientID = try PathManager(namespace: lab.clientNamespace).localID(token: tc, for: a(2, v6))
        try lab.mptcpctl(lab.client, ["announce", "--token", ctoken, "--address", a(2, v6).description, "--id", String(clientID),
                                      "--port", String(clientPort), "--dev", "a2"])
        _ = try server.first("the client's ADD_ADDR") { $0.type == .announced && $0.remoteAddress == a(2, v6) && $0.remotePort == UInt16(clientPort) }
        try lab.mptcpctl(lab.server, ["subflow", "create", "--token", stoken, "--local", b(2, v6).description,
                                      "--remote", at(a(2, v6), clientPort)])
        let made = try server.first("the server's own subflow") {
            $0.type == .subflowEstablished && $0.remoteAddress == a(2, v6) && $0.remotePort == UInt16(clientPort)
        }
        let serverPort = try #require(made.localPort)
        _ = try client.first("the server's subflow on the client") { $0.type == .subflowEstablished && $0.localPort == UInt16(clientPort) }
        try lab.mptcpctl(lab.server, ["subflow", "destroy", "--token", stoken, "--local", at(b(2, v6), Int(serverPort)),
                                      "--remote", at(a(2, v6), clientPort)])
        _ = try client.first("the server's destroy on the client") { $0.type == .subflowClosed && $0.localPort == UInt16(clientPort) }

        // `listen` ends cleanly on SIGTERM (and SIGINT), closing its socket (LISTENER_CLOSED).
        #expect(listenClient.stop(signal: SIGINT) == 0)
        #expect(listen3.stop() == 0)
        _ = try server.first("LISTENER_CLOSED of path 3's port") { $0.type == .listenerClosed && $0.localPort == UInt16(port3) }
        conn.stop()
        _ = try client.first("CLOSED") { $0.type == .closed && $0.token == tc }
        _ = try server.first("CLOSED on the server") { $0.type == .closed && $0.token == ts }

        // Every event each side's kernel sent, with every attribute, is in that side's monitor.
        for (name, recorder, monitor, from) in [("client", client, clientMonitor, clientFrom), ("server", server, serverMonitor, serverFrom)] {
            let events = Array(recorder.events[from...])
            #expect(events.allSatisfy { $0.unknownAttributes.isEmpty }, "every attribute the kernel sent is a known one")
            let kinds = Set(events.map(\.type))
            #expect(kinds.isSuperset(of: [.created, .established, .subflowEstablished, .subflowClosed, .subflowPriority, .closed,
                                          .listenerCreated, .listenerClosed]), "\(name): \(kinds)")
            var missing: [String] = []
            try waitFor("\(name)'s monitor to show its \(events.count) events", seconds: 15) {
                recorder.poll()
                let lines = monitor.jsonObjects
                missing = events.filter { e in !lines.contains { MonitorRecord.shows(e, $0) } }.map { "\($0)" }
                return missing.isEmpty
            }
            #expect(missing.isEmpty, "\(name): not in `monitor --kernel --json`: \(missing)")
        }
        #expect(client.events.contains { $0.type == .announced && $0.remoteID == 6 && $0.remotePort == UInt16(port3) })
        #expect(client.events.contains { $0.type == .removed && $0.remoteID == 5 })
    }

    /// Until a monitor shows a listener_created of a throw-away `mptcpctl listen`,
    /// it may not be subscribed yet. Returns where its events begin in `recorder`.
    func synchronise(_ monitor: LineProcess, _ recorder: EventRecorder, namespace: String, address: IPAddress) throws -> Int {
        for attempt in 0..<20 {
            let port = 6900 + attempt
            let from = recorder.events.count
            let listener = try LineProcess(Repository.mptcpctl, ["-n", namespace, "listen", address.description, String(port)])
            _ = try listener.waitForLine("the sync listener") { $0.hasPrefix("listening") }
            let start = try recorder.first("the sync LISTENER_CREATED") { $0.type == .listenerCreated && $0.localPort == UInt16(port) }
            let seen = (try? monitor.waitForLine("the monitor's sync line", seconds: 2) { $0.contains("\(port)") }) != nil
            listener.stop()
            if seen, let index = recorder.events[from...].firstIndex(of: start) { return index }
        }
        throw LabError("the monitor never showed a listener_created event")
    }

    @Test func anAnnouncementThroughTheDaemonCarriesItsDevice() throws {
        let policy = "[daemon]\nstate_directory = \"@STATE@\"\nresync_interval = 0\n[kernel]\npath_manager = \"userspace\"\n"
        let daemon = try Daemon(namespace: lab.server, policy: policy)
        try daemon.waitRunning()
        let client = try EventRecorder(lab.clientNamespace), server = try EventRecorder(lab.serverNamespace)
        let app = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", "6500"])
        defer { app.stop() }
        _ = try app.wait(for: "listening")
        let conn = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", "6500"])
        defer { conn.stop() }
        _ = try conn.wait(for: "connected")
        conn.send("send 1000")
        let ts = try #require(try server.first("established") { $0.type == .established && $0.isServerSide }.token)
        let result = try lab.mptcpctl(lab.server, ["announce", "--token", formatToken(ts), "--address", "10.0.2.2", "--id", "5",
                                                   "--dev", "b2"])
        #expect(!result.stderr.contains("asking the kernel directly"), "the daemon took it: \(result.stderr)")
        _ = try client.first("ADD_ADDR of 10.0.2.2") { $0.type == .announced && $0.remoteID == 5 }
        let b2 = try #require(try InterfaceTable.read(namespace: lab.serverNamespace).index(of: "b2"))
        #expect(try PathManager(namespace: lab.serverNamespace).addresses(token: ts).first { $0.id == 5 }?.interfaceIndex == b2)
        let unknown = try lab.mptcpctl(lab.server, ["announce", "--token", formatToken(ts), "--address", "10.0.3.2", "--id", "6",
                                                    "--dev", "nosuch0"], check: false)
        #expect(unknown.status == 64, "an unknown interface is the caller's mistake: \(unknown.stderr)")
        #expect(daemon.stop() == 0)
    }

    // MARK: which daemon the CLI talks to

    @Test func insideIpNetnsExecTheCLITalksToThatNamespacesDaemonAndRefusesAnUnnamedOnesWrongDaemon() throws {
        let policy = "[daemon]\nstate_directory = \"@STATE@\"\nresync_interval = 0\n"
        let daemon = try Daemon(namespace: lab.server, policy: policy)
        try daemon.waitRunning()
        // No -n, no --socket: the namespace the process runs in decides.
        let inside = try lab.exec(lab.server, [Repository.mptcpctl, "status", "--json"], check: false)
        #expect(inside.status == 0, "\(inside.stderr)")
        let status = try JSONSerialization.jsonObject(with: Data(inside.stdout.utf8)) as? [String: Any]
        #expect(status?["namespace"] as? String == lab.server)
        let other = try lab.exec(lab.client, [Repository.mptcpctl, "status"], check: false)
        #expect(other.status == 1)
        #expect(other.stderr.contains("mptcpctld-\(lab.client).sock"), "\(other.stderr)")
        #expect(daemon.stop() == 0)

        // An unnamed namespace: the daemon on the default socket serves another
        // namespace, so it is refused (a private /run/mptcpctl keeps the host's apart).
        let script = """
            set -u
            mkdir -p /run/mptcpctl && mount -t tmpfs tmpfs /run/mptcpctl || exit 90
            "$1" --config "$2" 2>"$3" &
            daemon=$!
            for _ in $(seq 500); do [ -S /run/mptcpctl/mptcpctld.sock ] && break; sleep 0.02; done
            unshare -n "$4" status >/dev/null 2>"$3.refused"; echo "refused=$?"
            unshare -n "$4" --socket /run/mptcpctl/mptcpctld.sock status >/dev/null 2>&1; echo "explicit=$?"
            kill -TERM $daemon; wait $daemon; echo "daemon=$?"
            """
        let log = daemon.directory.appendingPathComponent("inner.log").path
        // Started by `ip netns exec` the daemon is that namespace's, on its
        // socket: the default socket is given to it explicitly here.
        let inner = daemon.directory.appendingPathComponent("inner.toml").path
        try "[daemon]\nsocket = \"/run/mptcpctl/mptcpctld.sock\"\nstate_directory = \"\(daemon.stateDirectory)\"\nresync_interval = 0\n"
            .write(toFile: inner, atomically: true, encoding: .utf8)
        let result = try lab.exec(lab.server, ["unshare", "-m", "/bin/bash", "-c", script, "bash", Repository.mptcpctld,
                                               inner, log, Repository.mptcpctl], check: false)
        #expect(result.stdout.contains("refused=64"), "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("explicit=0"), "\(result.stdout)")
        #expect(result.stdout.contains("daemon=0"), "\(result.stdout)")
        let refusal = (try? String(contentsOfFile: log + ".refused", encoding: .utf8)) ?? ""
        #expect(refusal.contains("no name under /run/netns") && refusal.contains("--socket"), "\(refusal)")
    }

    // MARK: the daemon's listeners

    static func daemonPolicy(v6: Bool) -> String {
        """
        [daemon]
        state_directory = "@STATE@"
        resync_interval = 0
        [kernel]
        path_manager = "userspace"
        on_exit = "remove"
        [[interface]]
        name = "b1"
        role = "active"
        families = ["\(v6 ? "ipv6" : "ipv4")"]
        [[interface]]
        name = "b2"
        role = "active"
        announce = true
        families = ["\(v6 ? "ipv6" : "ipv4")"]
        [[interface]]
        name = "b3"
        role = "backup"
        announce = true
        announce_port = 7999
        families = ["\(v6 ? "ipv6" : "ipv4")"]
        """
    }

    @Test(arguments: [false, true])
    func theDaemonHoldsAListenerForEachAddressItAnnouncesUntilTheAnnouncementGoes(v6: Bool) throws {
        // The client's in-kernel PM joins what the server announces.
        try lab.mptcpctl(lab.client, ["limits", "set", "--subflows", "8", "--add-addr-accepted", "8"])
        try withoutTimestampsForIPv6(v6)
        let daemon = try Daemon(namespace: lab.server, policy: Self.daemonPolicy(v6: v6))
        try daemon.waitRunning()
        let published = try daemon.subscribe([.action])
        let client = try EventRecorder(lab.clientNamespace)
        let port = 7101
        let app = try lab.peer(lab.server, ["server", "--bind", b(1, v6).description, "--port", String(port)])
        defer { app.stop() }
        _ = try app.wait(for: "listening")
        let conn = try lab.peer(lab.client, ["client", "--connect", b(1, v6).description, "--port", String(port)])
        defer { conn.stop() }
        _ = try conn.wait(for: "connected")
        conn.send("send 1000")

        // Announced on the connection's port (b2) and on announce_port (b3), each with a listener of the daemon's.
        let on2 = try client.first("ADD_ADDR of b2") { $0.type == .announced && $0.remoteAddress == b(2, v6) }
        #expect(on2.remotePort == UInt16(port))
        let on3 = try client.first("ADD_ADDR of b3") { $0.type == .announced && $0.remoteAddress == b(3, v6) }
        #expect(on3.remotePort == 7999, "announce_port travels in the ADD_ADDR")
        func listening() throws -> Set<String> {
            Set(try ConnectionTable.listeners(namespace: lab.serverNamespace).map(\.description))
        }
        let want2 = at(b(2, v6), port), want3 = at(b(3, v6), 7999)
        #expect(try listening().isSuperset(of: [want2, want3]))
        let opened = try published.count(atLeast: 2, "listener_opened") { $0.type == "listener_opened" }
        #expect(opened.map { $0["address"] ?? "" }.sorted() == [want2, want3].sorted(), "\(published.described)")
        #expect(try published.all { $0.type == "announcement_withheld" }.isEmpty, "\(published.described)")
        // Every announced address takes the client's join.
        func joined() throws -> Set<String> {
            Set((try ConnectionTable.read(namespace: lab.serverNamespace).first { $0.localPort == UInt16(port) }?.subflows ?? [])
                .filter { $0.state == 1 }.map { at($0.localAddress, Int($0.localPort)) })
        }
        try daemon.waitUntil("joins to \(want2) and \(want3)") { try joined().isSuperset(of: [want2, want3]) }

        // The address goes: its announcement is withdrawn and its listener closed; the other stays.
        try lab.exec(lab.server, ["ip", "addr", "del", v6 ? "\(b(3, v6))/64" : "\(b(3, v6))/24", "dev", "b3"])
        _ = try client.first("RM_ADDR of b3") { $0.type == .removed && $0.remoteID == on3.remoteID }
        try daemon.waitUntil("the listener on \(want3) is closed") { try !listening().contains(want3) }
        #expect(try listening().contains(want2))
        // The connection goes: nothing needs the last one.
        conn.stop()
        try daemon.waitUntil("the listener on \(want2) is closed") { try !listening().contains(want2) }
        #expect(daemon.stop() == 0)
    }
}

/// `monitor --json` objects, read for the kernel's attributes whatever the field
/// names: each attribute is looked up under the names the kernel and
/// `pm_nl_ctl` give it (token, saddr4/saddr6, daddr4/daddr6, sport, dport,
/// loc_id, rem_id, backup, if_idx, error, …) and under mptcpctl's
/// (local_address, remote_port, interface_index, …).
enum MonitorRecord {
    static func value(_ object: [String: Any], _ keys: [String]) -> Any? {
        for k in keys { if let v = object[k], !(v is NSNull) { return v } }
        return nil
    }

    static func number(_ v: Any?) -> Int64? {
        if let n = v as? NSNumber { return n.int64Value }
        if let s = v as? String { return Int64(s) }
        return nil
    }

    static func matches(_ expected: IPAddress?, _ object: [String: Any], _ keys: [String]) -> Bool {
        guard let expected else { return true }
        guard let text = value(object, keys) as? String else { return false }
        return IPAddress(text) == expected
    }

    static func matches<T: BinaryInteger>(_ expected: T?, _ object: [String: Any], _ keys: [String]) -> Bool {
        guard let expected else { return true }
        return number(value(object, keys)) == Int64(expected)
    }

    /// Whether the monitor's object `o` is event `e` with every attribute the kernel sent.
    static func shows(_ e: Event, _ o: [String: Any]) -> Bool {
        guard let type = value(o, ["type", "event"]) as? String,
              type == e.type.name || type == e.type.name.replacingOccurrences(of: "sf_", with: "sub_") else { return false }
        if let token = e.token {
            let shown = value(o, ["token"])
            guard (shown as? String).flatMap(parseToken) == token || number(shown) == Int64(token) else { return false }
        }
        if let family = e.family {
            let shown = value(o, ["family"])
            let name = family == 2 ? ["inet", "ipv4"] : family == 10 ? ["inet6", "ipv6"] : []
            guard name.contains(shown as? String ?? "") || number(shown) == Int64(family) else { return false }
        }
        guard matches(e.localAddress, o, ["saddr4", "saddr6", "saddr", "local_address"]),
              matches(e.remoteAddress, o, ["daddr4", "daddr6", "daddr", "remote_address"]),
              matches(e.localPort, o, ["sport", "local_port"]),
              matches(e.remotePort, o, ["dport", "remote_port"]),
              matches(e.localID, o, ["loc_id", "local_id"]),
              matches(e.remoteID, o, ["rem_id", "remote_id"]),
              matches(e.error, o, ["error"]),
              matches(e.timeout, o, ["timeout"]),
              matches(e.interfaceIndex, o, ["if_idx", "ifindex", "interface_index"]),
              matches(e.resetReason, o, ["reset_reason"]),
              matches(e.resetFlags, o, ["reset_flags"])
        else { return false }
        if let backup = e.backup {
            guard let shown = value(o, ["backup"]), (shown as? NSNumber)?.boolValue == backup else { return false }
        }
        if let flags = e.flags {
            let raw = number(value(o, ["flags"]))
            let serverSide = (value(o, ["server_side"]) as? NSNumber)?.boolValue ?? false
            let deny = (value(o, ["deny_join_id0"]) as? NSNumber)?.boolValue ?? false
            guard raw == Int64(flags.rawValue)
                || (serverSide == flags.contains(.serverSide) && deny == flags.contains(.denyJoinID0)) else { return false }
        }
        if e.serverSideAttribute == true {
            guard (value(o, ["server_side"]) as? NSNumber)?.boolValue == true else { return false }
        }
        return true
    }
}

/// Polls `condition` until it holds, or fails after `seconds`.
func waitFor(_ what: String, seconds: Double = 10, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return }
        Thread.sleep(forTimeInterval: 0.05)
    }
    if try condition() { return }
    throw LabError("not within \(seconds) s: \(what)")
}
