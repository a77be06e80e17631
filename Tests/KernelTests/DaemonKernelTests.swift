import Foundation
import MPTCPKit
import Testing

/// `mptcpctld` against the real kernel: endpoints follow the policy, addresses
/// and links; reloads keep ids and subflows; ownership survives restarts.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class DaemonKernelTests {
    let lab: Lab
    let pm: PathManager

    /// a1 active, a2 backup, a3 off; IPv4 only so expectations stay short.
    static let policy = """
        [daemon]
        state_directory = "@STATE@"
        resync_interval = 0
        [kernel]
        path_manager = "kernel"
        limits = { subflows = 8, add_addr_accepted = 8 }
        on_exit = "remove"
        [[interface]]
        name = "a1"
        role = "active"
        families = ["ipv4"]
        [[interface]]
        name = "a2"
        role = "backup"
        families = ["ipv4"]
        [[interface]]
        name = "a3"
        role = "off"
        """

    init() throws {
        lab = try Lab(paths: 3)
        pm = try PathManager(namespace: lab.clientNamespace)
    }

    deinit { lab.close() }

    /// "id address flags interface" of every endpoint, sorted by address.
    func endpoints() throws -> [String] {
        let names = try InterfaceTable.read(namespace: lab.clientNamespace).names
        return try pm.endpoints().sorted { $0.address < $1.address }.map {
            "\($0.id) \($0.address) \($0.flags.names.joined(separator: ",")) \($0.interfaceIndex == 0 ? "-" : names[$0.interfaceIndex] ?? "?")"
        }
    }

    func endpoint(_ address: String) throws -> Endpoint? {
        try pm.endpoints().first { $0.address == IPAddress(address) }
    }

    func ip(_ arguments: String...) throws {
        try lab.exec(lab.client, ["ip"] + arguments)
    }

    @Test func addressesFollowTheRolesOfTheirInterfaces() throws {
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy)
        try daemon.waitConverged()
        #expect(try endpoints() == ["1 10.0.1.1 subflow a1", "2 10.0.2.1 subflow,backup a2"], "a3 is off")

        try ip("addr", "add", "10.0.51.1/24", "dev", "a1")
        try daemon.waitUntil("an endpoint for 10.0.51.1") { try endpoint("10.0.51.1") != nil }
        #expect(try endpoint("10.0.51.1")?.flags == .subflow)
        try ip("addr", "add", "10.0.52.1/24", "dev", "a2")
        try daemon.waitUntil("a backup endpoint for 10.0.52.1") { try endpoint("10.0.52.1")?.flags == [.subflow, .backup] }
        try ip("addr", "add", "10.0.53.1/24", "dev", "a3")
        try daemon.waitConverged()
        #expect(try endpoint("10.0.53.1") == nil, "an off interface gets nothing")

        try ip("addr", "del", "10.0.51.1/24", "dev", "a1")
        try daemon.waitUntil("the endpoint of a deleted address goes") { try endpoint("10.0.51.1") == nil }
        #expect(daemon.stop() == 0)
        #expect(try pm.endpoints().isEmpty, "on_exit = remove")
    }

    @Test func linkDownThenUpRemovesAndRestoresEndpoints() throws {
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy)
        try daemon.waitConverged()
        try ip("link", "set", "a2", "down")
        try daemon.waitUntil("a2's endpoint goes with the link") { try endpoint("10.0.2.1") == nil }
        #expect(try endpoint("10.0.1.1") != nil)
        try ip("link", "set", "a2", "up")
        try daemon.waitUntil("a2's endpoint comes back") { try endpoint("10.0.2.1")?.flags == [.subflow, .backup] }
        #expect(daemon.log.contains("a2 is down"), "the delete says why")
        daemon.stop()
    }

    @Test func reloadChangingRoleKeepsEndpointIDAndSubflows() throws {
        try lab.mptcpctl(lab.server, ["limits", "set", "--subflows", "8", "--add-addr-accepted", "8"])
        // a2 active at first, so the in-kernel PM opens a subflow from it.
        let activeBoth = Self.policy.replacingOccurrences(of: "name = \"a2\"\nrole = \"backup\"", with: "name = \"a2\"\nrole = \"active\"")
        let daemon = try Daemon(namespace: lab.client, policy: activeBoth)
        try daemon.waitConverged()
        let before = try #require(try endpoint("10.0.2.1"))
        #expect(before.flags == .subflow)

        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", "7101"])
        defer { server.stop() }
        _ = try server.wait(for: "listening")
        let client = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", "7101"])
        defer { client.stop() }
        _ = try client.wait(for: "connected")
        client.send("send 1000")  // the in-kernel PM opens subflows once data flowed
        func subflows() throws -> Int {
            client.send("info")
            return try #require(try client.wait(for: "info")["subflows"] as? Int)
        }
        func viaA2() throws -> Subflow? {
            try ConnectionTable.read(namespace: lab.clientNamespace).flatMap(\.subflows)
                .first { $0.localAddress == IPAddress("10.0.2.1") }
        }
        try daemon.waitUntil("a subflow from 10.0.2.1") { try viaA2() != nil }
        let countBefore = try subflows()
        #expect(countBefore >= 1)
        #expect(try viaA2()?.backupLocal == false)

        try daemon.reload(policy: Self.policy)  // a2 becomes backup
        try daemon.waitUntil("10.0.2.1 flips to backup") { try endpoint("10.0.2.1")?.flags == [.subflow, .backup] }
        #expect(try endpoint("10.0.2.1")?.id == before.id, "set, not delete and add")
        try daemon.waitUntil("the live subflow is marked backup") { try viaA2()?.backupLocal == true }
        #expect(try subflows() == countBefore, "MPTCP_INFO: no subflow was lost")
        #expect(daemon.log.contains("changed endpoint flags"))
        #expect(!daemon.log.contains("deleted endpoint"))
        daemon.stop()
    }

    @Test func foreignEndpointsSurviveReloadRestartAndExit() throws {
        try ip("mptcp", "endpoint", "add", "10.0.60.1", "id", "42", "signal")
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy)
        try daemon.waitConverged()
        #expect(try endpoint("10.0.60.1")?.id == 42)
        #expect(daemon.log.contains("foreign endpoint left alone"))
        try daemon.reload(policy: Self.policy.replacingOccurrences(of: "role = \"backup\"", with: "role = \"active\""))
        try daemon.waitUntil("the reload applies") { try endpoint("10.0.2.1")?.flags == .subflow }
        #expect(try endpoint("10.0.60.1")?.id == 42)
        #expect(daemon.stop() == 0)
        #expect(try endpoints() == ["42 10.0.60.1 signal -"], "on_exit = remove leaves only the foreign endpoint")

        let again = try Daemon(namespace: lab.client, policy: Self.policy, directory: daemon.directory)
        try again.waitConverged()
        #expect(try endpoint("10.0.60.1")?.id == 42)
        #expect(again.stop() == 0)
        #expect(try endpoints() == ["42 10.0.60.1 signal -"])
    }

    @Test func sigkillAndRestartNeitherDuplicatesNorLosesEndpoints() throws {
        try ip("mptcp", "endpoint", "add", "10.0.60.2", "id", "50", "subflow")
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy)
        try daemon.waitConverged()
        let converged = try endpoints()
        daemon.kill()
        #expect(try endpoints() == converged, "SIGKILL leaves the endpoints in place")

        let again = try Daemon(namespace: lab.client, policy: Self.policy, directory: daemon.directory)
        try again.waitConverged()
        #expect(try endpoints() == converged, "the restart adopts them: same ids, no duplicates")
        #expect(again.log.contains("adopting endpoints recorded by an earlier run"))
        #expect(!again.log.contains("added endpoint"))
        #expect(again.stop() == 0)
        #expect(try endpoints() == ["50 10.0.60.2 subflow -"])
    }

    @Test func aDamagedOwnershipRecordIsSetAsideNotFatal() throws {
        let first = try Daemon(namespace: lab.client, policy: Self.policy)
        try first.waitConverged()
        first.kill()
        let record = first.stateDirectory + "/endpoints-\(lab.client).json"
        try "not json".write(toFile: record, atomically: true, encoding: .utf8)
        let again = try Daemon(namespace: lab.client, policy: Self.policy, directory: first.directory)
        try again.waitUntil("the damaged record is set aside") { again.log.contains("ownership record is unreadable") }
        try again.waitConverged()
        #expect(FileManager.default.fileExists(atPath: record + ".damaged"))
        #expect(again.process.isRunning)
        #expect(again.stop() == 0)
        #expect(try endpoints() == ["1 10.0.1.1 subflow a1", "2 10.0.2.1 subflow,backup a2"],
                "endpoints it can no longer prove are its own are left alone")
    }

    @Test func onExitKeepLeavesTheEndpoints() throws {
        let keep = Self.policy.replacingOccurrences(of: "on_exit = \"remove\"", with: "on_exit = \"keep\"")
        let daemon = try Daemon(namespace: lab.client, policy: keep)
        try daemon.waitConverged()
        #expect(daemon.stop() == 0)
        #expect(try endpoints() == ["1 10.0.1.1 subflow a1", "2 10.0.2.1 subflow,backup a2"])
    }

    @Test func invalidReloadKeepsTheOldPolicy() throws {
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy)
        try daemon.waitConverged()
        try daemon.reload(policy: Self.policy + "\nfulmesh = true\n")
        try daemon.waitUntil("the refusal is logged") { daemon.log.contains("reload refused") }
        #expect(daemon.log.contains("policy.toml:19: interface[3].fulmesh: unknown key \\\"fulmesh\\\"; did you mean \\\"fullmesh\\\"?"),
                "\(daemon.log)")
        #expect(daemon.process.isRunning)
        try ip("addr", "add", "10.0.54.1/24", "dev", "a2")
        try daemon.waitUntil("the old policy still applies") { try endpoint("10.0.54.1")?.flags == [.subflow, .backup] }
        daemon.stop()
    }

    @Test func startingWithAnInvalidFileExitsOneWithEveryProblem() throws {
        let bad = Self.policy.replacingOccurrences(of: "subflows = 8", with: "subflows = 9")
            .replacingOccurrences(of: "role = \"off\"", with: "role = \"of\"")
        let daemon = try Daemon(namespace: lab.client, policy: bad)
        daemon.process.waitUntilExit()
        #expect(daemon.process.terminationStatus == 1)
        #expect(daemon.log.contains("policy.toml:6: kernel.limits.subflows: must be 0 to 8"))
        #expect(daemon.log.contains("policy.toml:18: interface[3].role: \"of\" is not one of: active, backup, handover, off"))
        #expect(try pm.endpoints().isEmpty, "nothing was changed")

        let check = try run(Repository.mptcpctl, ["check", daemon.configPath], check: false)
        #expect(check.status == 1)
        #expect(check.stderrLines.count == 2)
        let shipped = Repository.root.appendingPathComponent("config/mptcpctld.toml").path
        #expect(try run(Repository.mptcpctl, ["check", shipped], check: false).status == 0)
    }

    @Test func planShowsPendingChangesAndExitsTwo() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mptcpctl-plan-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("p.toml").path
        try Self.policy.replacingOccurrences(of: "@STATE@", with: directory.path).write(toFile: file, atomically: true, encoding: .utf8)
        let text = try lab.mptcpctl(lab.client, ["plan", "--config", file], check: false)
        #expect(text.status == 2)
        let lines = text.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines.contains { $0.hasPrefix("add id 1 10.0.1.1 dev a1 subflow #") }, "\(text.stdout)")
        #expect(lines.contains { $0.hasPrefix("add id 2 10.0.2.1 dev a2 subflow,backup #") }, "\(text.stdout)")
        #expect(lines.last == "3 changes pending")
        #expect(text.stdout.contains("skip") && text.stdout.contains("a3 is off"))
        let json = try lab.mptcpctl(lab.client, ["plan", "--config", file, "--json"], check: false)
        #expect(json.status == 2)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let changes = try #require(object["changes"] as? [[String: Any]])
        #expect(changes.contains { $0["action"] as? String == "add" })
        #expect(try pm.endpoints().isEmpty, "plan changes nothing")
    }

    @Test func stressFlapsConvergeToThePolicy() throws {
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy)
        try daemon.waitConverged()
        // 500 operations: addresses added and deleted on a1-a3, links flapped, as fast as ip -batch goes.
        var generator = SystemRandomNumberGenerator()
        var present: [String: String] = [:]  // address -> interface
        var down: Set<String> = []
        var batch: [String] = []
        let pool = (1...12).map { "10.0.8\($0 % 3).\($0)" }
        for _ in 0..<500 {
            let roll = Int.random(in: 0..<10, using: &generator)
            if roll < 2 {
                let link = ["a1", "a2", "a3"].randomElement(using: &generator)!
                if down.contains(link) { batch.append("link set \(link) up"); down.remove(link) } else {
                    batch.append("link set \(link) down"); down.insert(link)
                }
            } else {
                let address = pool.randomElement(using: &generator)!
                if let on = present[address] {
                    batch.append("addr del \(address)/32 dev \(on)")
                    present[address] = nil
                } else {
                    let on = ["a1", "a2", "a3"].randomElement(using: &generator)!
                    batch.append("addr add \(address)/32 dev \(on)")
                    present[address] = on
                }
            }
        }
        for link in down { batch.append("link set \(link) up") }
        let file = daemon.directory.appendingPathComponent("flaps.batch").path
        try (batch.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        try lab.exec(lab.client, ["ip", "-force", "-batch", file])

        // Links come up asynchronously (linkwatch): wait for all three before judging convergence.
        let reader = try NetworkReader(namespace: lab.clientNamespace)
        try daemon.waitUntil("a1-a3 operationally up") {
            let links = try reader.read().links.filter { ["a1", "a2", "a3"].contains($0.name) }
            return links.count == 3 && links.allSatisfy(\.isUsable)
        }
        try daemon.waitConverged(seconds: 30)
        #expect(daemon.process.isRunning)
        // Independently computed: every IPv4 address on a1 (active) and a2 (backup), none on a3.
        var expected: Set<String> = ["10.0.1.1 subflow a1", "10.0.2.1 subflow,backup a2"]
        for (address, on) in present where on != "a3" {
            expected.insert("\(address) \(on == "a1" ? "subflow" : "subflow,backup") \(on)")
        }
        let actual = Set(try endpoints().map { $0.split(separator: " ").dropFirst().joined(separator: " ") })
        if expected.count <= 8 {
            #expect(actual == expected)
        } else {
            #expect(actual.count == 8 && actual.isSubset(of: expected), "the cap keeps 8 of the wanted addresses")
        }
        #expect(Set(try pm.endpoints().map(\.id)).count == (try pm.endpoints()).count)
        #expect(daemon.stop() == 0)
        #expect(try pm.endpoints().isEmpty)
    }
}
