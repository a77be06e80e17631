import Foundation
import MPTCPAPI
import MPTCPKit
import Testing

/// A path that still carries packets but badly (issue 14's "degraded") on the
/// realistic lab (variant (b)), against the real kernel, with either path
/// manager: made slow (its smoothed probe RTT over `max_rtt`) or lossy (over
/// `max_loss`), path 1 is `degraded`, its endpoint (in-kernel PM) and its
/// subflows are backup while path 2 stays `up` and active; once the cause is
/// gone it is `up` again after `recover_hold` and nothing is backup any more.
/// States are waited for with generous deadlines, never timed.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class DegradedPathKernelTests {
    let lab: RealisticLab

    init() throws {
        lab = try RealisticLab(variant: .b)
    }

    deinit { lab.close() }

    /// The real-host policy probing the server's service address (behind the
    /// routers) of both families, with `settings` added to `[probe]` and a short
    /// `recover_hold`.
    func startDaemon(_ pathManager: RealHostPolicy.PathManager, _ settings: String) throws -> PathHealthWatch {
        let policy = RealHostPolicy(pathManager: pathManager).description + """

            [probe]
            targets = ["\(RealisticLab.service())", "\(RealisticLab.service(v6: true))"]
            recover_hold = "1s"
            \(settings)

            """
        let daemon = try Daemon(namespace: lab.client, policy: policy)
        try daemon.waitRunning(seconds: 60)
        try daemon.waitConverged(seconds: 60)
        let watch = PathHealthWatch(lab: lab, daemon: daemon)
        for uplink in [1, 2] { try watch.wait(RealisticLab.interface(uplink: uplink), "up") }
        return watch
    }

    /// An MPTCP connection to the service, idle once it has a subflow on each path, neither backup.
    func connection(port: Int, _ watch: PathHealthWatch) throws -> Peer {
        let peer = try lab.peer(lab.client, ["client", "--connect", RealisticLab.service().description, "--port", String(port)])
        _ = try peer.wait(for: "connected", seconds: 30)
        // Data makes it fully established: only then does the in-kernel PM open its subflows.
        peer.send("send 100000")
        _ = try peer.wait(for: "sent", seconds: 30)
        let path1 = try lab.clientAddress(uplink: 1), path2 = try lab.clientAddress(uplink: 2)
        try watch.waitUntil("a subflow on each path, neither backup") {
            let backup = try watch.subflowBackup(port: port)
            return backup[path1] == false && backup[path2] == false
        }
        return peer
    }

    /// Degraded: path 1's endpoint (in-kernel PM) and subflow are backup, path 2 stays up and active.
    func expectBackupWhileDegraded(_ watch: PathHealthWatch, _ pathManager: RealHostPolicy.PathManager, port: Int) throws {
        let path1 = try lab.clientAddress(uplink: 1), path2 = try lab.clientAddress(uplink: 2)
        if pathManager == .kernel {
            try watch.waitUntil("\(pathManager): path 1's endpoint is backup") {
                try watch.endpoint(path1)?.flags.contains("backup") == true
            }
            #expect(try watch.endpoint(path2).map { !$0.flags.contains("backup") } == true, "path 2's endpoint stays active")
        }
        try watch.waitUntil("\(pathManager): path 1's subflow is backup, path 2's is not") {
            let backup = try watch.subflowBackup(port: port)
            return backup[path1] == true && backup[path2] == false
        }
        #expect(try watch.state("eth2") == "up", "path 2 is untouched")
    }

    /// Up again after `recover_hold`, and nothing backup any more.
    func expectActiveAgain(_ watch: PathHealthWatch, _ pathManager: RealHostPolicy.PathManager, port: Int) throws {
        try watch.wait("eth1", "up")
        let up = try watch.record("eth1")?.lastTransition
        #expect(up?.from == "degraded" && up?.evidence.contains("recover_hold (1.0 s)") == true, "\(String(describing: up))")
        let path1 = try lab.clientAddress(uplink: 1), path2 = try lab.clientAddress(uplink: 2)
        if pathManager == .kernel {
            try watch.waitUntil("\(pathManager): path 1's endpoint is active again") {
                try watch.endpoint(path1).map { !$0.flags.contains("backup") } == true
            }
        }
        try watch.waitUntil("\(pathManager): path 1's subflow is active again") {
            let backup = try watch.subflowBackup(port: port)
            return backup[path1] == false && backup[path2] == false
        }
        #expect(!watch.daemon.log.contains("\"level\":\"critical\""), "\(watch.daemon.log)")
    }

    @Test(arguments: RealHostPolicy.PathManager.allCases)
    func aPathWhoseRTTIsOverMaxRTTIsBackupWhileDegradedAndActiveAgainAfterRecoverHold(
        pathManager: RealHostPolicy.PathManager
    ) throws {
        let port = 7541
        let sink = try lab.sink(port: port)
        defer { sink.stop() }
        let watch = try startDaemon(pathManager, "max_rtt = \"150ms\"")
        defer { watch.daemon.stop() }
        let held = try connection(port: port, watch)
        defer { held.stop() }

        let queue = try DeepQueue(lab, uplink: 1, port: 7542)
        defer { try? queue.drain() }
        try watch.wait("eth1", "degraded")
        let degraded = try watch.record("eth1")?.lastTransition
        #expect(degraded?.to == "degraded" && degraded?.evidence.contains("over max_rtt 150 ms") == true,
                "\(String(describing: degraded))")
        try expectBackupWhileDegraded(watch, pathManager, port: port)

        try queue.drain()
        try expectActiveAgain(watch, pathManager, port: port)
    }

    @Test(arguments: RealHostPolicy.PathManager.allCases)
    func aPathLosingMoreThanMaxLossIsBackupWhileDegradedAndActiveAgainAfterRecoverHold(
        pathManager: RealHostPolicy.PathManager
    ) throws {
        let port = 7543
        let sink = try lab.sink(port: port)
        defer { sink.stop() }
        // Half of what path 1 carries is lost: far over 10 %, yet 20 probes lost
        // in a row (what `down` needs here) is a one-in-a-million run.
        let watch = try startDaemon(pathManager, "max_loss = 10\nloss = 20")
        defer { watch.daemon.stop() }
        let held = try connection(port: port, watch)
        defer { held.stop() }

        // netem is not built into this kernel ("Specified qdisc kind is unknown"):
        // router 1 drops a random half of what the client sends through it.
        try lab.addRouterDrop(uplink: 1, table: "losstest", match: "numgen random mod 10 < 5")
        try watch.wait("eth1", "degraded")
        let degraded = try watch.record("eth1")?.lastTransition
        #expect(degraded?.to == "degraded" && degraded?.evidence.contains("over max_loss 10 %") == true,
                "\(String(describing: degraded))")
        try expectBackupWhileDegraded(watch, pathManager, port: port)

        try lab.removeRouterDrop(uplink: 1, table: "losstest")
        try expectActiveAgain(watch, pathManager, port: port)
    }
}

/// High RTT without netem (not built into this kernel): router `uplink`'s
/// queue towards the client becomes deep (tbf at 4 Mbit/s holding 400 ms) and
/// a bulk TCP download from the server keeps it full, so whatever else comes
/// back through it (the probes' answers) waits 200–400 ms. The sender is the
/// server, not the router: a local sender's queue is kept short by TCP small
/// queues. It uses Reno: the kernel's default here is BBR, which keeps the
/// queue empty, and Reno (unlike CUBIC) may be chosen inside a namespace.
/// Probes are not lost on the way (tail drops hit the download's packets).
final class DeepQueue {
    let lab: RealisticLab
    let uplink: Int
    private let listener: Peer
    private let sender: Peer
    private var drained = false

    init(_ lab: RealisticLab, uplink: Int, port: Int) throws {
        self.lab = lab
        self.uplink = uplink
        try lab.exec(lab.router(uplink), ["tc", "qdisc", "replace", "dev", "lan", "root", "tbf", "rate", "4mbit",
                                          "burst", "16kb", "latency", "400ms"])
        try lab.exec(lab.server, ["sysctl", "-qw", "net.ipv4.tcp_congestion_control=reno"])
        let address = try lab.clientAddress(uplink: uplink).description
        listener = try lab.peer(lab.client, ["server", "--tcp", "--bind", address, "--port", String(port)])
        _ = try listener.wait(for: "listening")
        sender = try lab.peer(lab.server, ["client", "--connect", address, "--port", String(port), "--seconds", "600"])
        _ = try sender.wait(for: "connected", seconds: 30)
    }

    deinit { try? drain() }

    /// Stops the download and gives the router its lab queue back (50 Mbit/s, 50 ms).
    func drain() throws {
        guard !drained else { return }
        drained = true
        sender.stop()
        listener.stop()
        try lab.exec(lab.router(uplink), ["tc", "qdisc", "replace", "dev", "lan", "root", "tbf", "rate", "50mbit",
                                          "burst", "64kb", "latency", "50ms"])
    }
}
