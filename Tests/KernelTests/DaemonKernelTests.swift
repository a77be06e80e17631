import Foundation
import MPTCPKit
import Synchronization
import Testing

/// `mptcpctld` with the in-kernel path manager, against the real kernel: its
/// endpoints follow the policy, addresses and links; reloads keep ids and
/// subflows; ownership survives restarts; foreign endpoints are never touched.
/// Endpoints are read with iproute2 (`ip -j mptcp endpoint show`), and the
/// desired set of the stress test is computed from `ip -j addr`/`ip -j link`,
/// so neither depends on MPTCPKit or the planner under test.
///
/// Every test gets a fresh 3-path lab (about 0.2 s): a1 active, a2 backup, a3 off.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class DaemonKernelTests {
    let lab: Lab

    init() throws {
        lab = try Lab(paths: 3)
    }

    deinit { lab.close() }

    /// The suite's policy; `extra` lines go into the last block (a3's).
    static func policy(a1: String = "active", a2: String = "backup", a3: String = "off", onExit: String = "remove",
                       resync: Int = 0, subflows: Int = 8, extra: String = "") -> String {
        """
        [daemon]
        state_directory = "@STATE@"
        resync_interval = \(resync)
        [kernel]
        path_manager = "kernel"
        limits = { subflows = \(subflows), add_addr_accepted = 8 }
        on_exit = "\(onExit)"
        [[interface]]
        name = "a1"
        role = "\(a1)"
        [[interface]]
        name = "a2"
        role = "\(a2)"
        [[interface]]
        name = "a3"
        role = "\(a3)"
        \(extra)
        """
    }

    /// What the lab's own addresses give under `policy()`: link-local fe80:: skipped, a3 off.
    static let initial = ["10.0.1.1 subflow a1", "10.0.2.1 subflow,backup a2",
                          "fd00:1::1 subflow a1", "fd00:2::1 subflow,backup a2"]

    // MARK: helpers

    /// `ip -n CLIENT ARGS...`
    func ip(_ arguments: String...) throws { try run("/usr/sbin/ip", ["-n", lab.client] + arguments) }

    /// Runs `lines` with `ip -n CLIENT [-force] -batch`; returns the result (not checked when `force`).
    @discardableResult
    func ipBatch(_ lines: [String], force: Bool = false) throws -> CommandResult {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("daemon-batch-\(getpid())-\(UUID().uuidString.prefix(8))")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        return try run("/usr/sbin/ip", ["-n", lab.client] + (force ? ["-force"] : []) + ["-batch", file.path], check: !force)
    }

    func endpoints() throws -> [EndpointRow] { try EndpointRow.read(namespace: lab.client) }

    /// "ADDRESS FLAGS DEV" of every endpoint, sorted by address.
    func rows() throws -> [String] { try endpoints().map(\.withoutID) }

    func endpoint(_ address: String) throws -> EndpointRow? { try endpoints().first { $0.address == address } }

    /// Starts the daemon in the client namespace and waits until the kernel matches the policy.
    func start(_ policy: String = policy(), directory: URL? = nil) throws -> Daemon {
        let daemon = try Daemon(namespace: lab.client, policy: policy, directory: directory)
        // Running first: a kernel that already matches (adopted endpoints) says
        // nothing about whether the daemon is up to take a signal yet.
        try daemon.waitRunning()
        try daemon.waitConverged()
        return daemon
    }

    /// "ID ADDRESS" of each endpoint in the daemon's ownership record.
    func owned(_ daemon: Daemon) throws -> Set<String> {
        let data = try Data(contentsOf: URL(fileURLWithPath: daemon.statePath))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let list = try #require(object["endpoints"] as? [[String: Any]])
        return Set(list.map { "\($0["id"] as? Int ?? -1) \($0["address"] as? String ?? "?")" })
    }

    func idsAndAddresses(_ rows: [EndpointRow]) -> Set<String> { Set(rows.map { "\($0.id) \($0.address)" }) }

    func limits() throws -> String {
        try run("/usr/sbin/ip", ["-n", lab.client, "mptcp", "limits", "show"]).stdout
    }

    // MARK: addresses and roles

    @Test func addressOnActiveInterfaceBecomesSubflowEndpoint() throws {
        let daemon = try start()
        let published = try daemon.subscribe([.action])
        #expect(try rows() == Self.initial, "the lab's addresses; no fe80:: link-local, nothing from a3 (off)")
        try ip("addr", "add", "10.0.50.1/24", "dev", "a1")
        try ip("-6", "addr", "add", "fd00:50::1/64", "dev", "a1", "nodad")
        try daemon.waitUntil("endpoints for 10.0.50.1 and fd00:50::1") {
            try endpoint("10.0.50.1") != nil && endpoint("fd00:50::1") != nil
        }
        #expect(try endpoint("10.0.50.1")?.withoutID == "10.0.50.1 subflow a1")
        #expect(try endpoint("fd00:50::1")?.withoutID == "fd00:50::1 subflow a1")
        let added = try published.first("the addition") { $0.type == "endpoint_add" && $0["address"] == "10.0.50.1" }
        #expect(added["flags"] == "subflow" && added["trigger"] == "network" && added["result"] == "ok", "\(published.described)")
        #expect(try owned(daemon) == idsAndAddresses(try endpoints()), "the ownership record lists exactly what it added")
        #expect(daemon.stop() == 0)
    }

    @Test func backupInterfaceGivesBackupEndpoint() throws {
        let daemon = try start()
        try ip("addr", "add", "10.0.51.1/24", "dev", "a2")
        try ip("-6", "addr", "add", "fd00:51::1/64", "dev", "a2", "nodad")
        try daemon.waitUntil("backup endpoints for 10.0.51.1 and fd00:51::1") {
            try endpoint("10.0.51.1") != nil && endpoint("fd00:51::1") != nil
        }
        #expect(try endpoint("10.0.51.1")?.withoutID == "10.0.51.1 subflow,backup a2")
        #expect(try endpoint("fd00:51::1")?.withoutID == "fd00:51::1 subflow,backup a2")
        #expect(daemon.stop() == 0)
    }

    @Test func offInterfaceIsIgnored() throws {
        try ip("link", "add", "d0", "type", "veth", "peer", "name", "d0peer")  // no dummy driver here
        try ip("link", "set", "d0peer", "up")
        try ip("link", "set", "d0", "up")
        let daemon = try start()
        try ip("addr", "add", "10.0.52.1/24", "dev", "a3")  // a3: role off
        try ip("addr", "add", "10.0.56.1/24", "dev", "d0")  // d0: matches no block
        // A barrier: a pass that sees 10.0.53.1 read a snapshot that already had the two above.
        try ip("addr", "add", "10.0.53.1/24", "dev", "a1")
        try daemon.waitUntil("the endpoint for 10.0.53.1") { try endpoint("10.0.53.1") != nil }
        try daemon.waitConverged()
        #expect(try rows() == (Self.initial + ["10.0.53.1 subflow a1"]).sorted(), "nothing for a3 or d0")
        let plan = try lab.mptcpctl(lab.client, ["plan", "--config", daemon.configPath], check: false)
        #expect(plan.status == 0)
        let lines = plan.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines.contains("skip - 10.0.52.1 dev a3 # a3 is off (interface[3] \"a3\")"), "\(plan.stdout)")
        #expect(lines.contains("skip - 10.0.56.1 dev d0 # d0 matches no [[interface]] block"), "\(plan.stdout)")
        #expect(daemon.stop() == 0)
    }

    @Test func deletingTheAddressRemovesItsEndpoint() throws {
        let daemon = try start()
        let published = try daemon.subscribe([.action])
        try ip("addr", "add", "10.0.50.1/24", "dev", "a1")
        try ip("-6", "addr", "add", "fd00:50::1/64", "dev", "a2", "nodad")
        try daemon.waitUntil("both new endpoints") { try endpoint("10.0.50.1") != nil && endpoint("fd00:50::1") != nil }
        let before = try endpoints()

        try ip("addr", "del", "10.0.50.1/24", "dev", "a1")
        try daemon.waitUntil("10.0.50.1's endpoint goes") { try endpoint("10.0.50.1") == nil }
        #expect(try endpoints() == before.filter { $0.address != "10.0.50.1" }, "the others keep their ids")
        // The event follows the kernel change: wait for it too.
        let deleted = try published.first("the deletion") { $0.type == "endpoint_delete" && $0["address"] == "10.0.50.1" }
        #expect(deleted["reason"] == "the address is no longer on any interface", "\(published.described)")

        try ip("-6", "addr", "del", "fd00:50::1/64", "dev", "a2")
        try daemon.waitUntil("fd00:50::1's endpoint goes") { try endpoint("fd00:50::1") == nil }
        #expect(try rows() == Self.initial)
        #expect(try owned(daemon) == idsAndAddresses(try endpoints()), "deletes are recorded too")
        #expect(daemon.stop() == 0)
    }

    @Test func addressMovedToAnotherInterfaceIsRebound() throws {
        let daemon = try start()
        let published = try daemon.subscribe([.action])
        try ip("addr", "add", "10.0.57.1/32", "dev", "a2")
        try daemon.waitUntil("a backup endpoint on a2") { try endpoint("10.0.57.1")?.withoutID == "10.0.57.1 subflow,backup a2" }
        // The same address on a1 too: one endpoint, the first by priority (active before backup).
        try ip("addr", "add", "10.0.57.1/32", "dev", "a1")
        try daemon.waitUntil("rebound to a1 (active wins)") { try endpoint("10.0.57.1")?.withoutID == "10.0.57.1 subflow a1" }
        #expect(try endpoints().filter { $0.address == "10.0.57.1" }.count == 1)
        try ip("addr", "del", "10.0.57.1/32", "dev", "a1")
        try daemon.waitUntil("back on a2") { try endpoint("10.0.57.1")?.withoutID == "10.0.57.1 subflow,backup a2" }
        #expect(try published.all { $0.type == "endpoint_delete" && $0["address"] == "10.0.57.1" && $0["reason"]?.hasPrefix("replaced: ") == true }
                    .count >= 1, "an interface change is delete + add:\n\(published.described)")
        try ip("addr", "del", "10.0.57.1/32", "dev", "a2")
        try daemon.waitUntil("gone") { try endpoint("10.0.57.1") == nil }
        #expect(try rows() == Self.initial)
        #expect(daemon.stop() == 0)
    }

    // MARK: links

    @Test func linkDownThenUpRemovesAndRestoresEndpoints() throws {
        // a2 keeps its IPv6 address across down/up; a1 does not (the kernel's default flushes it).
        try lab.exec(lab.client, ["sysctl", "-qw", "net.ipv6.conf.a2.keep_addr_on_down=1"])
        let daemon = try start()
        let a1Before = try endpoints().filter { $0.interface == "a1" }
        let published = try daemon.subscribe([.action])

        try ip("link", "set", "a2", "down")
        try daemon.waitUntil("a2's endpoints go with the link") { try endpoints().allSatisfy { $0.interface != "a2" } }
        #expect(try endpoints().filter { $0.interface == "a1" } == a1Before, "a1's endpoints untouched, same ids")
        try published.first("the delete, saying why") {
            $0.type == "endpoint_delete" && $0["address"] == "10.0.2.1" && $0["reason"] == "a2 is down (administratively)"
        }
        try daemon.waitConverged()
        try ip("link", "set", "a2", "up")
        try daemon.waitUntil("a2's endpoints come back, IPv4 and IPv6") {
            try endpoint("10.0.2.1")?.withoutID == "10.0.2.1 subflow,backup a2"
                && endpoint("fd00:2::1")?.withoutID == "fd00:2::1 subflow,backup a2"
        }
        #expect(try rows() == Self.initial)

        try ip("link", "set", "a1", "down")
        try daemon.waitUntil("a1's endpoints go with the link") { try endpoints().allSatisfy { $0.interface != "a1" } }
        try ip("link", "set", "a1", "up")
        try daemon.waitUntil("10.0.1.1 comes back") { try endpoint("10.0.1.1")?.withoutID == "10.0.1.1 subflow a1" }
        try daemon.waitConverged()
        let a1Addresses = try run("/usr/sbin/ip", ["-n", lab.client, "-o", "addr", "show", "dev", "a1"]).stdout
        #expect(!a1Addresses.contains("fd00:1::1"), "the kernel flushed a1's IPv6 address on link down (keep_addr_on_down=0)")
        #expect(try rows() == Self.initial.filter { $0 != "fd00:1::1 subflow a1" }, "no endpoint for the flushed address")
        #expect(daemon.stop() == 0)
    }

    // MARK: reload

    @Test func reloadChangingRoleKeepsEndpointIDAndSubflows() throws {
        try lab.mptcpctl(lab.server, ["limits", "set", "--subflows", "8", "--add-addr-accepted", "8"])
        // a2 active at first, so the in-kernel PM opens a (non-backup) subflow from it.
        let daemon = try start(Self.policy(a2: "active"))
        let published = try daemon.subscribe([.action, .policy])
        let before = try #require(try endpoint("10.0.2.1"))
        #expect(before.withoutID == "10.0.2.1 subflow a2")

        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", "7101"])
        defer { server.stop() }
        _ = try server.wait(for: "listening")
        let client = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", "7101"])
        defer { client.stop() }
        _ = try client.wait(for: "connected")
        client.send("send 1000")  // the in-kernel PM opens subflows once data has flowed
        _ = try client.wait(for: "sent")

        /// MPTCP_INFO's mptcpi_subflows (the extra subflows) of the client's connection.
        func infoSubflows() throws -> Int {
            client.send("info")
            return try #require(try client.wait(for: "info")["subflows"] as? Int)
        }
        /// The connection's subflows from 10.0.2.1, per `mptcpctl -j connections`.
        func viaA2() throws -> [[String: Any]] {
            let out = try lab.mptcpctl(lab.client, ["-j", "connections"]).stdout
            let all = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])
            let mine = all.filter { $0["remote_port"] as? Int == 7101 }
            return mine.flatMap { $0["subflows"] as? [[String: Any]] ?? [] }.filter { $0["local_address"] as? String == "10.0.2.1" }
        }
        try daemon.waitUntil("MPTCP_INFO counts an extra subflow and one runs from 10.0.2.1") {
            try infoSubflows() >= 1 && viaA2().count == 1
        }
        let count = try infoSubflows()
        #expect(try viaA2().first?["backup"] as? Bool == false)

        try daemon.reload(policy: Self.policy(a2: "backup"))
        try daemon.waitUntil("10.0.2.1 flips to backup") { try endpoint("10.0.2.1")?.flags == ["subflow", "backup"] }
        #expect(try endpoint("10.0.2.1")?.id == before.id, "set flags, not delete and add")
        try daemon.waitUntil("the live subflow is marked backup (MP_PRIO)") { try viaA2().first?["backup"] as? Bool == true }
        #expect(try viaA2().count == 1, "the subflow from 10.0.2.1 still exists")
        #expect(try infoSubflows() == count, "MPTCP_INFO: no subflow was lost")

        try daemon.reload(policy: Self.policy(a2: "active"))
        try daemon.waitUntil("10.0.2.1 flips back to active") { try endpoint("10.0.2.1")?.flags == ["subflow"] }
        #expect(try endpoint("10.0.2.1")?.id == before.id)
        try daemon.waitUntil("the live subflow is no longer backup") { try viaA2().first?["backup"] as? Bool == false }
        #expect(try viaA2().count == 1)
        #expect(try infoSubflows() == count)

        let changed = try published.count(atLeast: 2, "10.0.2.1's flag changes") { $0.type == "endpoint_set_flags" && $0["address"] == "10.0.2.1" }
        #expect(changed.map { "\($0["was"] ?? "") -> \($0["flags"] ?? "")" } == ["subflow -> subflow,backup", "subflow,backup -> subflow"],
                "\(published.described)")
        #expect(try published.all { $0.kind == .policy && $0.type == "reloaded" }.count == 2)
        #expect(try published.all { $0.type == "endpoint_delete" }.isEmpty, "\(published.described)")
        #expect(daemon.stop() == 0)
    }

    @Test func invalidReloadKeepsOldPolicy() throws {
        let daemon = try start()
        let published = try daemon.subscribe([.policy])
        // One valid change (a1 backup) among the errors: none of the file may apply.
        try daemon.reload(policy: Self.policy(a1: "backup", a3: "bakup", extra: "fulmesh = true"))
        let refused = try published.first("the refused reload") { $0.kind == .policy && $0.type == "reload_refused" }
        let problems = (refused["problems"] ?? "").split(separator: "\n").map(String.init)
        #expect(problems == [
            "\(daemon.configPath):16: interface[3].role: \"bakup\" is not one of: active, backup, handover, off",
            "\(daemon.configPath):17: interface[3].fulmesh: unknown key \"fulmesh\"; did you mean \"fullmesh\"?",
        ], "\(published.described)")
        let check = try run(Repository.mptcpctl, ["check", daemon.configPath], check: false)
        #expect(check.status == 1)
        #expect(check.stderrLines.map(String.init) == problems, "the daemon and mptcpctl check report the same lines")
        #expect(daemon.isRunning)
        #expect(try endpoint("10.0.1.1")?.flags == ["subflow"], "a1 stays active")
        try ip("addr", "add", "10.0.54.1/24", "dev", "a2")
        try daemon.waitUntil("the old policy still handles a new address") { try endpoint("10.0.54.1") != nil }
        #expect(try endpoint("10.0.54.1")?.withoutID == "10.0.54.1 subflow,backup a2")

        // Fixed, the same change applies.
        let id = try endpoint("10.0.1.1")?.id
        try daemon.reload(policy: Self.policy(a1: "backup"))
        try daemon.waitUntil("the valid reload applies") { try endpoint("10.0.1.1")?.flags == ["subflow", "backup"] }
        #expect(try endpoint("10.0.1.1")?.id == id)
        #expect(try published.all { $0.type == "reloaded" }.count == 1, "\(published.described)")
        #expect(daemon.stop() == 0)
    }

    @Test func startupWithInvalidFileExitsOneWithEveryProblem() throws {
        let limitsBefore = try limits()
        let bad = Self.policy(a3: "bakup", subflows: 9, extra: "fulmesh = true")
        let daemon = try Daemon(namespace: lab.client, policy: bad)
        try daemon.waitUntil("the daemon exits") { !daemon.isRunning }
        #expect(daemon.status() == 1)
        let expected = [
            "\(daemon.configPath):6: kernel.limits.subflows: must be 0 to 8 (the kernel's maximum), not 9",
            "\(daemon.configPath):16: interface[3].role: \"bakup\" is not one of: active, backup, handover, off",
            "\(daemon.configPath):17: interface[3].fulmesh: unknown key \"fulmesh\"; did you mean \"fullmesh\"?",
        ]
        #expect(daemon.log.split(separator: "\n").map(String.init) == expected, "every problem, one line each:\n\(daemon.log)")
        #expect(try endpoints().isEmpty, "nothing was changed")
        #expect(try limits() == limitsBefore, "not even the limits")

        let check = try run(Repository.mptcpctl, ["check", daemon.configPath], check: false)
        #expect(check.status == 1)
        #expect(check.stderrLines.map(String.init) == expected)
        let shipped = Repository.root.appendingPathComponent("config/mptcpctld.toml").path
        let good = try run(Repository.mptcpctl, ["check", shipped], check: false)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("valid"))
    }

    // MARK: ownership

    @Test func foreignEndpointSurvivesReloadAndRestart() throws {
        try ip("mptcp", "endpoint", "add", "10.0.60.1", "id", "42", "signal")
        let foreign = "42 10.0.60.1 signal -"
        let daemon = try start()
        #expect(try endpoint("10.0.60.1")?.description == foreign)
        let startUp = try daemon.subscribe([.action], startUp: true)
        try startUp.first("the foreign endpoint, left alone") { $0.type == "foreign_endpoint" && $0["id"] == "42" }
        #expect(try !owned(daemon).contains("42 10.0.60.1"))

        try daemon.reload(policy: Self.policy(a2: "active"))
        try daemon.waitUntil("the reload applies") { try endpoint("10.0.2.1")?.flags == ["subflow"] }
        #expect(try endpoint("10.0.60.1")?.description == foreign)

        daemon.kill()
        let again = try start(Self.policy(a2: "active"), directory: daemon.directory)
        #expect(try endpoint("10.0.60.1")?.description == foreign)
        #expect(try !owned(again).contains("42 10.0.60.1"), "a restart does not adopt it")
        try again.reload(policy: Self.policy())
        try again.waitUntil("the second reload applies") { try endpoint("10.0.2.1")?.flags == ["subflow", "backup"] }
        #expect(again.stop() == 0)
        #expect(try endpoints().map(\.description) == [foreign], "on_exit = remove leaves only the foreign endpoint")
    }

    @Test func foreignEndpointOnAWantedAddressIsLeftAlone() throws {
        try ip("mptcp", "endpoint", "add", "10.0.1.1", "id", "7", "signal")
        let daemon = try start()
        #expect(try endpoints().filter { $0.address == "10.0.1.1" }.map(\.description) == ["7 10.0.1.1 signal -"],
                "neither taken over nor duplicated")
        #expect(try rows() == ["10.0.1.1 signal -"] + Self.initial.dropFirst())
        let startUp = try daemon.subscribe([.action], startUp: true)
        try startUp.first("the warning") {
            $0.type == "endpoint_warning" && $0["message"]?.contains("10.0.1.1 (a1) is wanted but held by a foreign endpoint (id 7)") == true
        }
        #expect(daemon.stop() == 0)
        #expect(try endpoints().map(\.description) == ["7 10.0.1.1 signal -"])
    }

    @Test func sigkillAndRestartNeitherDuplicatesNorLosesEndpoints() throws {
        try ip("mptcp", "endpoint", "add", "10.0.60.2", "id", "50", "subflow")
        let daemon = try start()
        let converged = try endpoints()
        #expect(converged.map(\.withoutID) == (Self.initial + ["10.0.60.2 subflow -"]).sorted())
        #expect(try owned(daemon) == idsAndAddresses(converged.filter { $0.id != 50 }))
        daemon.kill()
        #expect(try endpoints() == converged, "SIGKILL leaves the endpoints in place")

        // A change while it is dead; the restart must catch up with it, and only with it.
        try ip("addr", "add", "10.0.55.1/24", "dev", "a1")
        let again = try Daemon(namespace: lab.client, policy: Self.policy(), directory: daemon.directory)
        try again.waitUntil("10.0.55.1's endpoint") { try endpoint("10.0.55.1") != nil }
        try again.waitConverged()
        try again.waitRunning()
        let startUp = try again.subscribe([.action], startUp: true)
        let after = try endpoints()
        #expect(after.filter { $0.address != "10.0.55.1" } == converged, "the same endpoints with the same ids")
        #expect(Set(after.map(\.address)).count == after.count, "no address twice")
        #expect(try startUp.first("the adoption") { $0.type == "endpoints_adopted" }["count"] == "4", "\(startUp.described)")
        #expect(try startUp.all { $0.type == "endpoint_add" }.compactMap { $0["address"] } == ["10.0.55.1"], "\(startUp.described)")
        #expect(try startUp.all { $0.type == "endpoint_delete" }.isEmpty, "\(startUp.described)")
        #expect(again.stop() == 0)
        #expect(try endpoints().map(\.description) == ["50 10.0.60.2 subflow -"], "SIGTERM: only the foreign endpoint remains")
    }

    /// SIGKILL halfway through adding endpoints, then halfway through deleting
    /// them (a reload turned the interfaces off): each restart converges, with
    /// no address twice and nothing the daemon added left behind.
    @Test func sigkillInTheMiddleOfAReconciliationConverges() throws {
        for i in 1...6 { try ip("addr", "add", "10.0.7\(i).1/24", "dev", "a1") }
        let slow = ["MPTCPCTLD_DEBUG_CHANGE_DELAY_MS": "150"]
        let first = try Daemon(namespace: lab.client, policy: Self.policy(), environment: slow)
        try first.waitUntil("three endpoints added") { first.lines("added endpoint").count >= 3 }
        first.kill()
        let partial = try endpoints()
        #expect(partial.count >= 3 && partial.count < 8, "killed halfway: \(partial)")
        let second = try Daemon(namespace: lab.client, policy: Self.policy(), directory: first.directory)
        try second.waitConverged()
        let converged = try endpoints()
        #expect(converged.count == 8, "the cap: \(converged)")
        #expect(Set(converged.map(\.address)).count == converged.count, "no address twice")
        #expect(second.lines("added endpoint").count == 8 - partial.count, "only what was missing was added")
        #expect(try owned(second) == idsAndAddresses(converged), "every one recorded as the daemon's")
        second.kill()

        // Halfway through deleting: a1 and a2 turned off.
        let off = Self.policy(a1: "off", a2: "off")
        let third = try Daemon(namespace: lab.client, policy: off, directory: first.directory, environment: slow)
        try third.waitUntil("three endpoints deleted") { third.lines("deleted endpoint").count >= 3 }
        third.kill()
        #expect(try endpoints().count > 0, "killed before the end")
        let fourth = try Daemon(namespace: lab.client, policy: off, directory: first.directory)
        try fourth.waitConverged()
        let left = try endpoints()
        #expect(left.isEmpty, "no orphan left: \(left)")
        #expect(try owned(fourth).isEmpty)
        #expect(fourth.stop() == 0)
    }

    /// A kernel command that fails between the decision and the command: an
    /// address taken by someone else's endpoint (the kernel refuses the add). The
    /// refusal is logged once with the kernel's reason and counted; the retry
    /// finds nothing left to do, and nothing is retried again.
    @Test func aChangeRefusedOrOvertakenIsLoggedOnceCountedAndNotRetriedForever() throws {
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy(), environment: ["MPTCPCTLD_DEBUG_CHANGE_DELAY_MS": "1000"])
        try daemon.waitConverged(seconds: 20)
        let published = try daemon.subscribe([.action])
        func pausedBefore(_ change: String) throws {
            try daemon.waitUntil("the pause before \(change)") {
                daemon.lines("debug: pausing before an endpoint change").contains { $0["change"] == change }
            }
        }
        // Someone else takes the address while the daemon is about to add it.
        try ip("addr", "add", "10.0.81.1/24", "dev", "a1")
        try pausedBefore("add 10.0.81.1 subflow")
        try ip("mptcp", "endpoint", "add", "10.0.81.1", "id", "60", "signal")
        try published.first("the refusal") { $0.isRefusal }
        try published.first("the retry finds nothing to do", seconds: 15) { $0.type == "endpoint_refusal_cleared" }
        #expect(try endpoint("10.0.81.1")?.description == "60 10.0.81.1 signal -", "the other endpoint is left alone")

        // The address that vanishes while the daemon is about to add its endpoint
        // is ReconcilerTests.anEndpointMadeForAnAddressThatVanishedMidPassIsDeletedNextPass
        // (a fake kernel, no pause needed); here, what only the kernel shows: its
        // refusal and its words for it.
        try daemon.waitConverged(seconds: 15)

        // Quiet afterwards: no retry is pending, nothing is logged again.
        let settled = daemon.log
        Thread.sleep(forTimeInterval: 2.5)
        #expect(daemon.log == settled, "nothing after convergence:\n\(daemon.log.dropFirst(settled.count))")
        let refused = try published.all(\.isRefusal)
        #expect(refused.count == 1 && refused.first?["address"] == "10.0.81.1", "refused once: \(published.described)")
        #expect(refused.first?["error"]?.contains("duplicate") == true, "the kernel's reason: \(refused)")
        #expect(try published.all { $0.type == "endpoint_retry_scheduled" }.count == 1, "one retry, which found nothing to do")
        let metrics = try lab.mptcpctl(lab.client, ["metrics"]).stdout
        #expect(metrics.contains("mptcpctld_endpoint_changes_total{action=\"add\",result=\"refused\"} 1"), "\(metrics)")
        #expect(daemon.stop() == 0)
        #expect(try endpoints().map(\.description) == ["60 10.0.81.1 signal -"], "the daemon removed exactly its own")
    }

    /// The policy file rewritten in place (truncate, half, pause, the rest) while
    /// SIGHUPs arrive: a half-written file is never applied; a file replaced
    /// atomically, or left alone, is applied whole.
    @Test func aPolicyRewrittenDuringReloadsIsNeverAppliedHalfWritten() throws {
        let daemon = try start()
        let reloads = try daemon.subscribe([.policy])
        let three = Self.policy().replacingOccurrences(of: "@STATE@", with: daemon.stateDirectory)
        let four = Self.policy(extra: "[[interface]]\nname = \"a4\"\nrole = \"active\"\n")
            .replacingOccurrences(of: "@STATE@", with: daemon.stateDirectory)
        let writing = Mutex(true)
        let path = daemon.configPath
        let writer = Thread {
            var i = 0
            while writing.withLock({ $0 }) {
                let bytes = Array((i % 2 == 0 ? four : three).utf8)
                let fd = open(path, O_WRONLY | O_TRUNC)
                if fd >= 0 {
                    let cut = bytes.count / 2 + (i % 7) * 3
                    _ = bytes[..<cut].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    usleep(40_000)
                    _ = bytes[cut...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    close(fd)
                }
                usleep(20_000)
                i += 1
            }
        }
        writer.start()
        for _ in 0..<12 {
            daemon.signal(SIGHUP)
            usleep(250_000)
        }
        writing.withLock { $0 = false }
        Thread.sleep(forTimeInterval: 0.2)
        // Atomically replaced, then reloaded: applied whole.
        try daemon.reload(policy: four)
        try daemon.waitUntil("the last version applied", seconds: 15) {
            try reloads.all { $0.type == "reloaded" }.last?["interfaces"] == "4" && (try? endpoints().count) != nil
        }
        let applied = try reloads.all { $0.type == "reloaded" }.compactMap { $0["interfaces"] }
        #expect(!applied.isEmpty && applied.allSatisfy { $0 == "3" || $0 == "4" }, "only whole files: \(applied)")
        #expect(daemon.isRunning)
        #expect(daemon.stop() == 0)
    }

    @Test func damagedOwnershipRecordIsSetAsideNotFatal() throws {
        let first = try start()
        let converged = try endpoints()
        first.kill()
        try "not json".write(toFile: first.statePath, atomically: true, encoding: .utf8)
        let again = try Daemon(namespace: lab.client, policy: Self.policy(), directory: first.directory)
        try again.waitRunning()
        try again.subscribe([.action], startUp: true).first("the damaged record set aside") { $0.type == "endpoint_record_unreadable" }
        try again.waitConverged()
        #expect(FileManager.default.fileExists(atPath: first.statePath + ".damaged"))
        #expect(again.isRunning)
        #expect(again.stop() == 0)
        #expect(try endpoints() == converged, "endpoints it can no longer prove are its own are left alone")
    }

    @Test func onExitRemoveLeavesOnlyForeignEndpoints() throws {
        // Foreign endpoints holding id 1 and id 8: the daemon must pick other ids.
        try ip("mptcp", "endpoint", "add", "10.0.60.3", "id", "1", "signal")
        try ip("mptcp", "endpoint", "add", "10.0.60.4", "id", "8", "subflow")
        let foreign = ["1 10.0.60.3 signal -", "8 10.0.60.4 subflow -"]
        let daemon = try start()
        try ip("addr", "add", "10.0.50.1/24", "dev", "a1")
        try daemon.waitUntil("10.0.50.1's endpoint") { try endpoint("10.0.50.1") != nil }
        let all = try endpoints()
        #expect(all.count == 7)
        #expect(Set(all.map(\.id)).count == 7, "ids are unique")
        #expect(daemon.stop() == 0)
        #expect(try endpoints().map(\.description) == foreign)
        #expect(daemon.lines("removed endpoint at exit").count == 5, "\(daemon.log)")
        #expect(try owned(daemon).isEmpty, "the record is emptied as it removes them")
    }

    @Test func onExitKeepLeavesThem() throws {
        let daemon = try start(Self.policy(onExit: "keep"))
        try ip("addr", "add", "10.0.50.1/24", "dev", "a1")
        try daemon.waitUntil("10.0.50.1's endpoint") { try endpoint("10.0.50.1") != nil }
        let kept = try endpoints()
        #expect(daemon.stop() == 0)
        #expect(try endpoints() == kept, "on_exit = keep: all five stay, same ids")
        #expect(!daemon.lines("shutting down: keeping endpoints (on_exit = keep)").isEmpty, "\(daemon.log)")
        #expect(try owned(daemon) == idsAndAddresses(kept), "still recorded as its own")

        // The next run adopts them (no duplicates), and on_exit = remove then removes them.
        let again = try start(Self.policy(), directory: daemon.directory)
        let startUp = try again.subscribe([.action], startUp: true)
        #expect(try endpoints() == kept)
        #expect(try startUp.all { $0.type == "endpoint_add" }.isEmpty, "\(startUp.described)")
        #expect(again.stop() == 0)
        #expect(try endpoints().isEmpty)
    }

    @Test func resyncRepairsChangesMadeBehindItsBack() throws {
        let daemon = try start(Self.policy(resync: 1))
        let published = try daemon.subscribe([.action])
        // Quiet first: a late notification (link-local DAD ending) would trigger a repairing pass of its own.
        try daemon.waitUntil("no tentative address left") {
            try run("/usr/sbin/ip", ["-n", lab.client, "-6", "addr", "show", "tentative"]).stdout.isEmpty
        }
        let before = try endpoints()
        let a1 = try #require(try endpoint("10.0.1.1")), a2 = try #require(try endpoint("10.0.2.1"))
        try ip("mptcp", "endpoint", "delete", "id", String(a2.id))
        try ip("mptcp", "endpoint", "change", "id", String(a1.id), "backup")
        // No rtnetlink notification tells of this: only the periodic resync can see it.
        try daemon.waitUntil("the resync restores both") { try rows() == Self.initial }
        #expect(try endpoint("10.0.1.1")?.id == a1.id, "flags set back in place")
        #expect(try endpoints().filter { $0.address != "10.0.2.1" } == before.filter { $0.address != "10.0.2.1" })
        try published.first("the forgotten endpoint") { $0.type == "endpoints_forgotten" && $0["endpoints"] == "\(a2.id):10.0.2.1" }
        try published.first("the flags set back by the resync") {
            $0.type == "endpoint_set_flags" && $0["address"] == "10.0.1.1" && $0["trigger"] == "resync"
        }
        #expect(daemon.stop() == 0)
    }

    // MARK: the cap

    @Test func endpointCapKeepsTheHighestPriorityAddresses() throws {
        // A foreign endpoint takes one of the kernel's 8 slots: 7 are left.
        try ip("mptcp", "endpoint", "add", "10.0.60.5", "id", "100", "signal")
        let daemon = try start()
        let published = try daemon.subscribe([.action])
        try ipBatch([
            "addr add 10.0.70.4/32 dev a2", "addr add 10.0.70.3/32 dev a2", "addr add 10.0.70.2/32 dev a2",
            "addr add 10.0.70.1/32 dev a2", "addr add fd00:70::2/128 dev a1 nodad", "addr add fd00:70::1/128 dev a1 nodad",
        ])
        // Active a1 (4) before backup a2 (6); in a2, IPv4 before IPv6, then by address: 3 of a2 fit.
        let want = ["10.0.1.1 subflow a1", "fd00:1::1 subflow a1", "fd00:70::1 subflow a1", "fd00:70::2 subflow a1",
                    "10.0.2.1 subflow,backup a2", "10.0.70.1 subflow,backup a2", "10.0.70.2 subflow,backup a2",
                    "10.0.60.5 signal -"].sorted()
        try daemon.waitUntil("the 7 highest-priority addresses") { try rows() == want }
        try daemon.waitConverged()
        #expect(try rows() == want)
        try published.first("the cap's warning") {
            let message = $0["message"] ?? ""
            return $0.type == "endpoint_warning" && message.hasPrefix("the kernel holds at most 8 endpoints (1 foreign); not using ")
                && message.contains("10.0.70.3 (a2, backup)") && message.contains("fd00:2::1 (a2, backup)")
        }

        // A slot frees up: the next by priority (10.0.70.3) takes it.
        try ip("-6", "addr", "del", "fd00:70::1/128", "dev", "a1")
        try daemon.waitUntil("10.0.70.3 moves up") { try endpoint("10.0.70.3") != nil && endpoint("fd00:70::1") == nil }
        try daemon.waitConverged()
        #expect(try rows() == (want.filter { !$0.hasPrefix("fd00:70::1 ") } + ["10.0.70.3 subflow,backup a2"]).sorted())
        #expect(daemon.stop() == 0)
        #expect(try endpoints().map(\.description) == ["100 10.0.60.5 signal -"])
    }

    // MARK: signals

    @Test func signalsReachTheDaemonWhateverMaskItStartsWith() throws {
        for mask in [Daemon.SignalMask.blocked, .cleared] {
            let daemon = try Daemon(namespace: lab.client, policy: Self.policy(), signals: mask)
            try daemon.waitRunning()
            try daemon.waitConverged()
            try daemon.reload(policy: Self.policy(a2: "active"))
            try daemon.waitUntil("SIGHUP reloads (\(mask))") { try endpoint("10.0.2.1")?.flags == ["subflow"] }
            #expect(daemon.stop() == 0, "SIGTERM ends it cleanly (\(mask))")
            #expect(!daemon.neededKill, "\(mask): SIGTERM was not acted on within 10 s")
            #expect(try endpoints().isEmpty, "\(mask)")
        }
    }

    // MARK: plan

    @Test func planListsPendingAddsAndExitsTwo() throws {
        try ip("mptcp", "endpoint", "add", "10.0.60.1", "id", "42", "signal")
        let limitsBefore = try limits()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mptcpctl-plan-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("p.toml").path
        // The endpoint plan alone (the routing changes' rows and count: RoutingDaemonKernelTests).
        try Self.policy(extra: "[routing]\nmode = \"off\"").replacingOccurrences(of: "@STATE@", with: directory.path)
            .write(toFile: file, atomically: true, encoding: .utf8)

        let text = try lab.mptcpctl(lab.client, ["plan", "--config", file], check: false)
        #expect(text.status == 2, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines.filter { $0.hasPrefix("add ") } == [
            "add id 1 10.0.1.1 dev a1 subflow # a1 is active (interface[1] \"a1\")",
            "add id 2 fd00:1::1 dev a1 subflow # a1 is active (interface[1] \"a1\")",
            "add id 3 10.0.2.1 dev a2 subflow,backup # a2 is backup (interface[2] \"a2\")",
            "add id 4 fd00:2::1 dev a2 subflow,backup # a2 is backup (interface[2] \"a2\")",
        ], "\(text.stdout)")
        #expect(lines.contains { $0.hasPrefix("foreign id 42 10.0.60.1 - signal #") }, "\(text.stdout)")
        #expect(lines.contains("skip - 10.0.3.1 dev a3 # a3 is off (interface[3] \"a3\")"), "\(text.stdout)")
        #expect(lines.last == "5 changes pending", "4 adds and the limits")

        let json = try lab.mptcpctl(lab.client, ["plan", "--config", file, "--json"], check: false)
        #expect(json.status == 2)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let changes = try #require(object["changes"] as? [[String: Any]])
        #expect(changes.compactMap { $0["action"] as? String } == ["set_limits", "add", "add", "add", "add"])
        let added = changes.compactMap { ($0["endpoint"] as? [String: Any])?["address"] as? String }
        #expect(added == ["10.0.1.1", "fd00:1::1", "10.0.2.1", "fd00:2::1"])

        #expect(try endpoints().map(\.description) == ["42 10.0.60.1 signal -"], "plan changes nothing")
        #expect(try limits() == limitsBefore)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("state").path), "nor writes state")

        // Once the daemon has applied it, the same plan is empty.
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy(), directory: directory)
        try daemon.waitConverged()
        #expect(try lab.mptcpctl(lab.client, ["plan", "--config", daemon.configPath], check: false).status == 0)
        #expect(daemon.stop() == 0)
    }

    // MARK: stress

    @Test func stressFlapsConverge() throws {
        let seed = ProcessInfo.processInfo.environment["DAEMON_STRESS_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        // a2 and a3 share a block, listed in reverse: the cap orders by interface name, not list order.
        // The last block never matches: the first matching block wins.
        let policy = Self.policy().replacingOccurrences(of: """
            [[interface]]
            name = "a2"
            role = "backup"
            [[interface]]
            name = "a3"
            role = "off"
            """, with: """
            [[interface]]
            name = ["a3", "a2"]
            role = "backup"
            [[interface]]
            name = "a*"
            role = "off"
            """)
        try #require(policy.contains("[\"a3\", \"a2\"]"))
        let rules: [String: IPRoute2.Rule] = ["a1": .init(role: .active, block: 1), "a2": .init(role: .backup, block: 2),
                                              "a3": .init(role: .backup, block: 2)]
        let daemon = try start(policy)

        // 500 operations as fast as one `ip -batch` goes: 20 addresses (12 IPv4, 8 IPv6) added to and
        // deleted from a1-a3 (the same address may sit on two interfaces), and links flapped. IPv6
        // addresses are flushed by the kernel when their link goes down: -force carries on past the
        // deletes that then fail, and the expectation is read from the kernel, not from this model.
        let pool = (1...12).map { "10.0.9\($0 % 3).\($0)/32" } + (1...8).map { "fd00:99::\($0)/128" }
        let interfaces = ["a1", "a2", "a3"]
        var present: Set<String> = []  // "ADDRESS DEV"
        var down: Set<String> = []
        var batch: [String] = []
        for _ in 0..<500 {
            if Int.random(in: 0..<100, using: &rng) < 15 {
                let link = interfaces.randomElement(using: &rng)!
                batch.append("link set \(link) \(down.contains(link) ? "up" : "down")")
                if down.contains(link) { down.remove(link) } else { down.insert(link) }
            } else {
                let address = pool.randomElement(using: &rng)!, link = interfaces.randomElement(using: &rng)!
                if present.contains("\(address) \(link)") {
                    batch.append("addr del \(address) dev \(link)")
                    present.remove("\(address) \(link)")
                } else {
                    batch.append("addr add \(address) dev \(link)\(address.contains(":") ? " nodad" : "")")
                    present.insert("\(address) \(link)")
                }
            }
        }
        try ipBatch(batch, force: true)

        func judge(_ phase: String) throws {
            // Links come up asynchronously (linkwatch): judge once every administratively up link is operationally up.
            try daemon.waitUntil("\(phase): administratively up links are operationally up (seed \(seed))") {
                try IPRoute2.links(lab.client).filter { rules[$0.key] != nil }
                    .allSatisfy { !$0.value.adminUp || $0.value.operState == "UP" }
            }
            var expected: [String] = []
            try daemon.waitUntil("\(phase): the endpoints equal the independently computed set (seed \(seed))", seconds: 30) {
                expected = try IPRoute2.desired(lab.client, rules: rules, slots: 8)
                return try daemon.converged() && rows() == expected
            }
            #expect(daemon.isRunning)
            let final = try endpoints()
            #expect(Set(final.map(\.id)).count == final.count, "\(phase): unique ids (seed \(seed))")
            #expect(try owned(daemon) == idsAndAddresses(final), "\(phase): the record lists exactly the kernel's endpoints (seed \(seed))")
            let wanted = try IPRoute2.desired(lab.client, rules: rules, slots: .max).count
            print("stress \(phase): seed \(seed), links down \(down.sorted()), \(wanted) addresses wanted for 8 slots, \(final.count) endpoints, "
                  + "\(daemon.lines("kernel refused an endpoint change").count) refused changes, \(daemon.logLines.count) log lines")
        }
        try judge("after the flaps")
        // Then every link up at once: the restore path, with whatever addresses survived.
        try ipBatch(down.sorted().map { "link set \($0) up" })
        down = []
        try judge("all links up")
        #expect(daemon.stop() == 0)
        #expect(try endpoints().isEmpty)
    }
}

/// What the kernel says about links and addresses, read with iproute2, and the
/// endpoint set the policy rules of mptcpctld.toml(5) give for it: computed here
/// independently of the daemon's planner.
enum IPRoute2 {
    enum Role: Int { case active = 0, backup = 1, off = 9 }

    /// The block an interface matches: its role and the block's position in the file.
    struct Rule { var role: Role; var block: Int }

    struct LinkState { var adminUp: Bool; var operState: String }

    static func json(_ namespace: String, _ arguments: [String]) throws -> [[String: Any]] {
        let out = try run("/usr/sbin/ip", ["-n", namespace, "-j"] + arguments).stdout
        return try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]] ?? []
    }

    static func links(_ namespace: String) throws -> [String: LinkState] {
        var out: [String: LinkState] = [:]
        for link in try json(namespace, ["link", "show"]) {
            guard let name = link["ifname"] as? String else { continue }
            out[name] = LinkState(adminUp: (link["flags"] as? [String] ?? []).contains("UP"),
                                  operState: link["operstate"] as? String ?? "?")
        }
        return out
    }

    /// "ADDRESS FLAGS DEV" rows, sorted by address, for the interfaces in `rules`: every global
    /// address (no link-local, loopback, tentative, failed or deprecated one) on an interface that
    /// is up, one endpoint per address, keeping `slots` of them in the cap's order: active before
    /// backup, block order, interface name, IPv4 before IPv6, address.
    static func desired(_ namespace: String, rules: [String: Rule], slots: Int) throws -> [String] {
        let links = try links(namespace)
        var candidates: [(role: Role, block: Int, link: String, v4: Bool, bytes: [UInt8], address: String)] = []
        for link in try json(namespace, ["addr", "show"]) {
            guard let name = link["ifname"] as? String, let rule = rules[name], rule.role != .off,
                  let state = links[name], state.adminUp, state.operState == "UP" || state.operState == "UNKNOWN" else { continue }
            for a in link["addr_info"] as? [[String: Any]] ?? [] {
                guard let address = a["local"] as? String, let family = a["family"] as? String,
                      a["scope"] as? String == "global",
                      a["tentative"] as? Bool != true, a["dadfailed"] as? Bool != true, a["deprecated"] as? Bool != true
                else { continue }
                candidates.append((rule.role, rule.block, name, family == "inet", bytes(address), address))
            }
        }
        candidates.sort { a, b in
            if a.role != b.role { return a.role.rawValue < b.role.rawValue }
            if a.block != b.block { return a.block < b.block }
            if a.link != b.link { return a.link < b.link }
            if a.v4 != b.v4 { return a.v4 }
            return a.bytes.lexicographicallyPrecedes(b.bytes)
        }
        var seen: Set<String> = []
        let kept = candidates.filter { seen.insert($0.address).inserted }.prefix(slots)
        return kept.map { "\($0.address) \($0.role == .active ? "subflow" : "subflow,backup") \($0.link)" }
            .sorted { $0.split(separator: " ")[0] < $1.split(separator: " ")[0] }
    }

    static func bytes(_ address: String) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 16)
        let v4 = !address.contains(":")
        _ = inet_pton(v4 ? AF_INET : AF_INET6, address, &buffer)
        return Array(buffer.prefix(v4 ? 4 : 16))
    }
}

/// A small seedable generator, so a failing stress run can be replayed (DAEMON_STRESS_SEED).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
