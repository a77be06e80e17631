import Foundation
import MPTCPAPI
import MPTCPKit
import Testing

/// Steering on path health against the real kernel, on the realistic lab
/// (variant (b): a default route per uplink, uplink 1's of the lower metric, so
/// it holds main's default route): path 1 is blackholed by a drop rule in its
/// router (links up), with either path manager. The peer stops using path 1
/// while traffic goes on over path 2; once it heals path 1 carries data again;
/// new connections opened during the blackhole start on path 2 as MPTCP, and
/// the routing is exactly as before after healing. States are waited for with
/// generous deadlines, never timed (the times seen are printed).
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class PathSteeringKernelTests {
    let lab: RealisticLab

    init() throws {
        lab = try RealisticLab(variant: .b)
    }

    deinit { lab.close() }

    /// The real-host policy probing the server's service address (behind the
    /// routers, so a drop rule there makes the path `down`).
    func startDaemon(_ pathManager: RealHostPolicy.PathManager) throws -> Daemon {
        let policy = RealHostPolicy(pathManager: pathManager).description
            + "\n[probe]\ntargets = [\"\(RealisticLab.service())\"]\n"
        let daemon = try Daemon(namespace: lab.client, policy: policy)
        try daemon.waitRunning(seconds: 60)
        try daemon.waitConverged(seconds: 60)
        for uplink in [1, 2] { try waitState(daemon, uplink, "up") }
        return daemon
    }

    /// Router `uplink` drops everything its client side forwards (links stay up).
    func blackhole(uplink: Int) throws {
        try lab.exec(lab.router(uplink), ["nft", """
            add table inet steertest; \
            add chain inet steertest forward { type filter hook forward priority -10; }; \
            add rule inet steertest forward iifname "lan" counter drop
            """])
    }

    func heal(uplink: Int) throws {
        try lab.exec(lab.router(uplink), ["nft", "delete", "table", "inet", "steertest"])
    }

    /// The state `mptcpctl paths` shows for uplink `uplink`'s IPv4 path.
    func state(_ uplink: Int) throws -> String? {
        let text = try lab.mptcpctl(lab.client, ["paths", "--json"]).stdout
        guard case .array(let items) = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else { return nil }
        let name = RealisticLab.interface(uplink: uplink)
        return try items.map { try PathRecord(json: $0) }.first { $0.interface == name && $0.family == "ipv4" }?.state
    }

    func waitState(_ daemon: Daemon, _ uplink: Int, _ wanted: String) throws {
        try daemon.waitUntil("eth\(uplink)/ipv4 \(wanted) in mptcpctl paths", seconds: 60) { try state(uplink) == wanted }
    }

    /// The server's TCP sockets of connections to `port` (the subflows as the peer sees them).
    func serverSubflows(port: Int) throws -> [(state: String, remote: IPAddress)] {
        let text = try lab.exec(lab.server, ["ss", "-tnH", "state", "all", "( sport = :\(port) )"]).stdout
        return text.split(separator: "\n").compactMap { line in
            let words = line.split(whereSeparator: \.isWhitespace)
            guard words.count >= 5, let colon = words[4].lastIndex(of: ":") else { return nil }
            var host = words[4][..<colon]
            if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
            if let percent = host.lastIndex(of: "%") { host = host[..<percent] }
            guard let remote = IPAddress(String(host.replacingOccurrences(of: "::ffff:", with: ""))) else { return nil }
            return (String(words[0]), remote)
        }
    }

    /// The highest bytes acked (`received`: received) of the client's established subflows from `address`.
    func acked(from address: IPAddress, port: Int, received: Bool = false) throws -> UInt64? {
        try lab.subflows(port: port).filter { $0.local == address && $0.isEstablished }.map { received ? $0.bytesReceived : $0.bytesAcked }.max()
    }

    /// Waits until an established subflow from `address` has had 100 kB more
    /// acked (`received`: received, a download) since the call.
    func waitCarrying(_ daemon: Daemon, from address: IPAddress, port: Int, received: Bool = false, _ what: String) throws {
        var first: UInt64?
        try daemon.waitUntil(what, seconds: 60) {
            guard let now = try acked(from: address, port: port, received: received) else { return false }
            if let first, now > first + 100_000 { return true }
            if first == nil { first = now }
            return false
        }
    }

    /// Whether the server still has an established subflow from `address` (its side of our subflows).
    func serverHasSubflow(from address: IPAddress, port: Int) throws -> Bool {
        try serverSubflows(port: port).contains { $0.state == "ESTAB" && $0.remote == address }
    }

    /// Three blackholes of path 1. An idle connection: path 1 is withdrawn at
    /// once (RM_ADDR over path 2: the server drops its subflow from path 1),
    /// and joined again once it heals. A bulk upload, then a bulk download:
    /// path 1's subflows are kept as backup, not closed, while the connection
    /// has data in flight (Linux has already moved its data to path 2, and a
    /// close here or at the peer would make it re-send the whole unacknowledged
    /// window); the transfer goes on over path 2, and once path 1 heals it
    /// carries data again.
    @Test(arguments: RealHostPolicy.PathManager.allCases)
    func aBlackholedPathIsLeftByThePeerAndCarriesDataAgainOnceItHeals(pathManager: RealHostPolicy.PathManager) throws {
        let port = 7531
        let sink = try lab.sink(port: port)
        defer { sink.stop() }
        let daemon = try startDaemon(pathManager)
        defer { daemon.stop() }
        let path1 = try lab.clientAddress(uplink: 1), path2 = try lab.clientAddress(uplink: 2)

        // An idle connection: withdrawn at once.
        let idle = try lab.peer(lab.client, ["client", "--connect", RealisticLab.service().description, "--port", String(port)])
        defer { idle.stop() }
        _ = try idle.wait(for: "connected", seconds: 30)
        idle.send("send 200000")
        _ = try idle.wait(for: "sent", seconds: 30)
        try daemon.waitUntil("\(pathManager): the idle connection has a subflow from each path", seconds: 60) {
            try serverHasSubflow(from: path1, port: port) && serverHasSubflow(from: path2, port: port)
        }
        try blackhole(uplink: 1)
        try waitState(daemon, 1, "down")
        try daemon.waitUntil("\(pathManager): the server has no established subflow from path 1 (RM_ADDR over path 2)",
                             seconds: 60) { try !serverHasSubflow(from: path1, port: port) }
        try heal(uplink: 1)
        try waitState(daemon, 1, "up")
        try daemon.waitUntil("\(pathManager): the idle connection joins from path 1 again", seconds: 60) {
            try serverHasSubflow(from: path1, port: port)
        }
        idle.send("quit")

        try busyTransferKeepsPath1AsBackupAndCarriesAgainOnceHealed(daemon, pathManager, port: port, download: false)
        let source = try lab.source(port: port + 10)
        defer { source.stop() }
        try busyTransferKeepsPath1AsBackupAndCarriesAgainOnceHealed(daemon, pathManager, port: port + 10, download: true)
        #expect(!daemon.log.contains("\"level\":\"critical\""), "\(daemon.log)")
    }

    /// `namespace`'s MPTcpExt counter `name` (/proc/net/netstat).
    func mptcpCounter(_ namespace: String, _ name: String) throws -> UInt64? {
        let lines = try lab.exec(namespace, ["cat", "/proc/net/netstat"]).stdout.split(separator: "\n")
            .filter { $0.hasPrefix("MPTcpExt:") }.map { $0.split(separator: " ").dropFirst() }
        guard lines.count == 2, let i = lines[0].firstIndex(of: Substring(name)) else { return nil }
        return UInt64(lines[1][i])
    }

    /// A bulk upload (to the sink on `port`) or download (from the source on
    /// `port`) over both paths; path 1 blackholed: the sender's kernel
    /// usually marks its subflow on path 1 stale and sends on path 2 (the
    /// peer stops using the path without a close), and the daemon keeps it
    /// as backup while the transfer moves (or closes it when the transfer is
    /// stuck on it); healed: path 1 active and carrying again.
    func busyTransferKeepsPath1AsBackupAndCarriesAgainOnceHealed(_ daemon: Daemon, _ pathManager: RealHostPolicy.PathManager,
                                                                 port: Int, download: Bool) throws {
        let path1 = try lab.clientAddress(uplink: 1), path2 = try lab.clientAddress(uplink: 2)
        let what = "\(pathManager) \(download ? "download" : "upload")"
        let client = try lab.peer(lab.client, ["client", "--connect", RealisticLab.service().description, "--port", String(port),
                                               "--seconds", "240"] + (download ? ["--receive"] : []))
        defer { client.stop() }
        _ = try client.wait(for: "connected", seconds: 30)
        try waitCarrying(daemon, from: path1, port: port, received: download, "\(what): path 1 carries the transfer")
        try waitCarrying(daemon, from: path2, port: port, received: download, "\(what): path 2 carries the transfer")

        let sender = download ? lab.server : lab.client
        let staleBefore = try #require(try mptcpCounter(sender, "SubflowStale"), "MPTcpExt SubflowStale in \(sender)")
        let blackholed = Date()
        try blackhole(uplink: 1)
        try waitState(daemon, 1, "down")
        let detected = Date()
        // Usually the sender's kernel marks its subflow on path 1 stale and
        // moves the data to path 2; then the daemon keeps that subflow as
        // backup while the transfer moves. Not always (once in 28 benchmark
        // uploads, and under ThreadSanitizer here): a connection that moves
        // nothing for 500 ms is stuck on the dead path, and the daemon closes
        // path 1's subflow to free it. Either way the transfer goes on over path 2.
        try daemon.waitUntil("\(what): the subflow from path 1 is backup, or closed", seconds: 60) {
            try backup(of: path1, port: port) != false
        }
        try waitCarrying(daemon, from: path2, port: port, received: download, "\(what): the transfer goes on over path 2")
        let stale = try (mptcpCounter(sender, "SubflowStale") ?? 0) > staleBefore
        if try backup(of: path1, port: port) == true {
            #expect(try lab.mptcpctl(lab.client, ["paths"]).stdout.contains("withdrawal waits while a connection on it has data in flight"),
                    "\(what)")
        }
        print("STEER \(what): the sender's kernel \(stale ? "marked" : "did not mark") its subflow on path 1 stale; "
              + "path 1 \(try backup(of: path1, port: port) == true ? "kept as backup" : "closed")")

        try heal(uplink: 1)
        let healed = Date()
        try waitState(daemon, 1, "up")
        try daemon.waitUntil("\(what): a subflow from path 1 is established and active again", seconds: 60) {
            try acked(from: path1, port: port) != nil && backup(of: path1, port: port) == false
        }
        let reestablished = Date()
        try waitCarrying(daemon, from: path1, port: port, received: download, "\(what): path 1 carries data again")
        print(String(format: "STEER %@: down %.2f s after the blackhole, path 1 active again %.2f s after healing",
                     what, detected.timeIntervalSince(blackholed), reestablished.timeIntervalSince(healed)))
        #expect(try serverHasSubflow(from: path1, port: port), "\(what)")
    }

    /// `ip rule` of both families and the IPv4 routes of every table, as text.
    func routing() throws -> String {
        try ["-4 rule show", "-6 rule show", "-4 route show table all"].map {
            try lab.exec(lab.client, ["ip"] + $0.split(separator: " ").map(String.init)).stdout
        }.joined(separator: "\n")
    }

    /// A new MPTCP connection to the service: its source address and whether it fell back to TCP.
    func connectAndSend(port: Int) throws -> (local: IPAddress?, fallback: Bool?) {
        let client = try lab.peer(lab.client, ["client", "--connect", RealisticLab.service().description, "--port", String(port)])
        defer { client.stop() }
        let connected = try client.wait(for: "connected", seconds: 30)
        client.send("send 200000")
        _ = try client.wait(for: "sent", seconds: 30)
        client.send("info")
        let info = try client.wait(for: "info", seconds: 30)
        client.send("quit")
        return ((connected["local_address"] as? String).flatMap(IPAddress.init), info["fallback"] as? Bool)
    }

    @Test(arguments: RealHostPolicy.PathManager.allCases)
    func newConnectionsDuringABlackholeOfTheInitialPathStartOnTheOtherAsMPTCPAndRoutingIsRestored(
        pathManager: RealHostPolicy.PathManager
    ) throws {
        let port = 7532
        let sink = try lab.sink(port: port)
        defer { sink.stop() }
        let daemon = try startDaemon(pathManager)
        defer { daemon.stop() }
        let before = try routing()
        let path2 = try lab.clientAddress(uplink: 2)
        #expect(try connectAndSend(port: port).local == (try lab.clientAddress(uplink: 1)), "main's default route: path 1")

        try blackhole(uplink: 1)
        try waitState(daemon, 1, "down")
        try daemon.waitUntil("\(pathManager): a rule sends unbound traffic to path 2's table", seconds: 30) {
            try lab.clientRules().contains { $0["src"] as? String == "all" && $0["priority"] as? Int == 7399 }
        }
        for attempt in 1...3 {
            let (local, fallback) = try connectAndSend(port: port)
            #expect(local == path2, "\(pathManager): connection \(attempt) starts on path 2")
            #expect(fallback == false, "\(pathManager): connection \(attempt) is MPTCP")
        }

        try heal(uplink: 1)
        try waitState(daemon, 1, "up")
        try daemon.waitUntil("\(pathManager): the routing is exactly as before", seconds: 30) { try routing() == before }
        #expect(try connectAndSend(port: port).local == (try lab.clientAddress(uplink: 1)), "new connections start on path 1 again")
    }

    /// The backup flag of the client's subflow from `address` (of a connection
    /// to `port`, when given), as `mptcpctl connections --json` reports it.
    func backup(of address: IPAddress, port: Int? = nil) throws -> Bool? {
        let text = try lab.mptcpctl(lab.client, ["connections", "--json"]).stdout
        let connections = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
        let subflows = connections.filter { c in port.map { c["remote_port"] as? Int == $0 } ?? true }
            .flatMap { $0["subflows"] as? [[String: Any]] ?? [] }
        return subflows.first { ($0["local_address"] as? String).flatMap(IPAddress.init) == address }?["backup"] as? Bool
    }

    @Test func activeBackupPromotesTheBackupWhileThePrimaryIsDownAndFailsBackOnceItHeals() throws {
        let port = 7533
        let sink = try lab.sink(port: port)
        defer { sink.stop() }
        let daemon = try Daemon(namespace: lab.client, policy: """
            [daemon]
            state_directory = "@STATE@"
            resync_interval = 0

            [kernel]
            path_manager = "userspace"
            on_exit = "remove"

            [[interface]]
            name = "eth1"
            role = "active"

            [[interface]]
            name = "eth2"
            role = "backup"

            [[connection]]
            name = "active-backup"
            mode = "active-backup"
            failback_hold = "1s"

            [probe]
            targets = ["\(RealisticLab.service())"]
            """)
        defer { daemon.stop() }
        try daemon.waitRunning(seconds: 60)
        for uplink in [1, 2] { try waitState(daemon, uplink, "up") }
        let path1 = try lab.clientAddress(uplink: 1), path2 = try lab.clientAddress(uplink: 2)
        let client = try lab.peer(lab.client, ["client", "--connect", RealisticLab.service().description, "--port", String(port),
                                               "--seconds", "240"])
        defer { client.stop() }
        _ = try client.wait(for: "connected", seconds: 30)
        try waitCarrying(daemon, from: path1, port: port, "path 1 carries the transfer")
        try daemon.waitUntil("a backup subflow from path 2", seconds: 60) { try backup(of: path2) == true }

        try blackhole(uplink: 1)
        try waitState(daemon, 1, "down")
        try daemon.waitUntil("path 2's subflow promoted", seconds: 60) { try backup(of: path2) == false }
        try waitCarrying(daemon, from: path2, port: port, "the transfer goes on over path 2")

        try heal(uplink: 1)
        try waitState(daemon, 1, "up")
        try waitCarrying(daemon, from: path1, port: port, "path 1 carries data again")
        try daemon.waitUntil("path 2's subflow demoted after failback_hold", seconds: 60) { try backup(of: path2) == true }
    }
}
