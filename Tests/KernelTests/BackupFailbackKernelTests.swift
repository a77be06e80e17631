import Foundation
import MPTCPKit
import Testing

/// Failback with `on_path_down = "backup"` against the real kernel, on the
/// realistic lab of `PathSteeringKernelTests` (whose lab and helpers it uses):
/// path 1 is blackholed during an upload for 20 s, long enough for its kept
/// subflow's retransmission timer to back off several times, then healed. The
/// subflow kept through the outage is rebuilt (userspace PM: destroyed and made
/// again; in-kernel PM: its endpoint replaced), so path 1 carries data again
/// on a new subflow soon after healing rather than at the stale subflow's next
/// backed-off retransmission. States are waited for with generous deadlines,
/// never timed; the times seen are printed (`FAILBACK …`).
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class BackupFailbackKernelTests {
    let steering: PathSteeringKernelTests
    var lab: RealisticLab { steering.lab }

    init() throws {
        steering = try PathSteeringKernelTests()
    }

    /// The real-host policy with `on_path_down = "backup"`, probing the service address.
    func startDaemon(_ pathManager: RealHostPolicy.PathManager) throws -> Daemon {
        let policy = RealHostPolicy(pathManager: pathManager).description
            + "\n[probe]\ntargets = [\"\(RealisticLab.service())\"]\non_path_down = \"backup\"\n"
        let daemon = try Daemon(namespace: lab.client, policy: policy)
        try daemon.waitRunning(seconds: 60)
        try daemon.waitConverged(seconds: 60)
        for uplink in [1, 2] { try steering.waitState(daemon, uplink, "up") }
        return daemon
    }

    /// The client's established subflows from `address` to `port`, by local port.
    func established(from address: IPAddress, port: Int) throws -> [Int: UInt64] {
        var found: [Int: UInt64] = [:]
        for s in try lab.subflows(port: port) where s.local == address && s.isEstablished { found[s.localPort] = s.bytesAcked }
        return found
    }

    @Test(arguments: RealHostPolicy.PathManager.allCases)
    func aPathKeptAsBackupThroughALongOutageCarriesDataOnANewSubflowSoonAfterHealing(
        pathManager: RealHostPolicy.PathManager
    ) throws {
        let port = 7534
        let sink = try lab.sink(port: port)
        defer { sink.stop() }
        let daemon = try startDaemon(pathManager)
        defer { daemon.stop() }
        let path1 = try lab.clientAddress(uplink: 1), path2 = try lab.clientAddress(uplink: 2)
        let client = try lab.peer(lab.client, ["client", "--connect", RealisticLab.service().description, "--port", String(port),
                                               "--seconds", "240"])
        defer { client.stop() }
        _ = try client.wait(for: "connected", seconds: 30)
        try steering.waitCarrying(daemon, from: path1, port: port, "\(pathManager): path 1 carries the upload")
        try steering.waitCarrying(daemon, from: path2, port: port, "\(pathManager): path 2 carries the upload")

        let blackholed = Date()
        try steering.blackhole(uplink: 1)
        try steering.waitState(daemon, 1, "down")
        try steering.waitCarrying(daemon, from: path2, port: port, "\(pathManager): the upload goes on over path 2")
        // An outage long enough for several backed-off retransmissions of path 1's subflow.
        let outage = 20.0
        Thread.sleep(forTimeInterval: max(0, outage - Date().timeIntervalSince(blackholed)))
        let kept = try established(from: path1, port: port)
        #expect(!kept.isEmpty, "\(pathManager): path 1's subflow was kept through the outage")

        try steering.heal(uplink: 1)
        let healed = Date()
        try steering.waitState(daemon, 1, "up")
        let up = Date()
        do {
            try daemon.waitUntil("\(pathManager): a new subflow from path 1 carries data", seconds: 120) {
                try established(from: path1, port: port).contains { port, acked in kept[port] == nil && acked > 100_000 }
            }
        } catch {
            print("FAILBACK \(pathManager): kept \(kept); subflows now:\n\(try lab.subflows(port: port).map(\.description).joined(separator: "\n"))")
            throw error
        }
        let carrying = Date()
        print(String(format: "FAILBACK %@ (on_path_down = backup, %.0f s outage): path 1 up %.2f s after healing, "
                     + "a new subflow from it carries data %.2f s after healing",
                     pathManager.description, healed.timeIntervalSince(blackholed), up.timeIntervalSince(healed),
                     carrying.timeIntervalSince(healed)))
        try daemon.waitUntil("\(pathManager): the subflows kept through the outage are gone", seconds: 60) {
            try established(from: path1, port: port).keys.allSatisfy { kept[$0] == nil }
        }
        try daemon.waitUntil("\(pathManager): path 1's subflow is not backup any more", seconds: 60) {
            try steering.backup(of: path1) == false
        }
        #expect(!daemon.log.contains("\"level\":\"critical\""), "\(daemon.log)")
    }
}
