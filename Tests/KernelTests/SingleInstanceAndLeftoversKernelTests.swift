import Foundation
import MPTCPKit
import Testing

/// One daemon per namespace (the loser changes nothing), what the daemon gives
/// back at exit (the settings it found), what it leaves out under the
/// userspace path manager (in-kernel endpoints), and `check` running the
/// daemon's own start-up validation, against the real kernel and binaries.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class SingleInstanceAndLeftoversKernelTests {
    let lab: Lab

    init() throws {
        lab = try Lab(paths: 3)
    }

    deinit { lab.close() }

    static func policy(pathManager: String = "kernel", subflows: Int = 5, onExit: String = "remove", extraDaemon: String = "") -> String {
        """
        [daemon]
        state_directory = "@STATE@"
        resync_interval = 0
        \(extraDaemon)
        [kernel]
        path_manager = "\(pathManager)"
        limits = { subflows = \(subflows), add_addr_accepted = 7 }
        on_exit = "\(onExit)"
        [[interface]]
        name = "a1"
        role = "active"
        [[interface]]
        name = "a2"
        role = "backup"
        """
    }

    var socketPath: String { "/run/mptcpctl/mptcpctld-\(lab.client).sock" }

    /// Everything of the namespace a daemon could change, as iproute2, sysctl
    /// and the file system report it, byte for byte.
    func kernelState(record: String) throws -> String {
        try [
            lab.exec(lab.client, ["ip", "-j", "mptcp", "endpoint", "show"]).stdout,
            lab.exec(lab.client, ["ip", "mptcp", "limits", "show"]).stdout,
            lab.exec(lab.client, ["sysctl", "-a", "-r", "^net\\.mptcp\\."]).stdout,
            lab.exec(lab.client, ["ip", "rule", "show"]).stdout,
            String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: record))) ?? Data("no record".utf8), as: UTF8.self),
        ].joined(separator: "\n--\n")
    }

    func status() throws -> [String: Any] {
        let out = try lab.mptcpctl(lab.client, ["--socket", socketPath, "-j", "status"]).stdout
        return try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any] ?? [:]
    }

    func sysctl(_ name: String) throws -> String {
        try lab.exec(lab.client, ["sysctl", "-n", name]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func limits() throws -> String {
        try lab.exec(lab.client, ["ip", "mptcp", "limits", "show"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts a daemon that must lose: it exits 1 with one line naming the holder.
    func expectRefused(_ policy: String, holder: Daemon, viaIPNetnsExec: Bool = false,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let loser = try Daemon(namespace: lab.client, policy: policy, viaIPNetnsExec: viaIPNetnsExec)
        try loser.waitUntil("the second daemon exits", seconds: 30) { !loser.isRunning }
        #expect(loser.status() == 1, sourceLocation: sourceLocation)
        let lines = loser.log.split(separator: "\n")
        #expect(lines.count == 1, "\(loser.log)", sourceLocation: sourceLocation)
        let line = String(lines.first ?? "")
        #expect(line.contains("another daemon serves this network namespace: pid \(holder.process.processIdentifier), socket \(socketPath)"),
                "\(line)", sourceLocation: sourceLocation)
    }

    @Test func aSecondDaemonInTheSameNamespaceChangesNothingAndExitsWithOneLineNamingTheFirst() throws {
        let first = try Daemon(namespace: lab.client, policy: Self.policy())
        try first.waitConverged()
        try first.waitRunning()
        let before = try kernelState(record: first.statePath)
        #expect(before.contains("10.0.1.1") && before.contains("subflows 5"), "\(before)")

        // The same command again, then one with another socket, another state
        // directory and settings of its own (which it would apply, were it to run).
        try expectRefused(Self.policy(), holder: first)
        try expectRefused(Self.policy(pathManager: "userspace", subflows: 2, extraDaemon: "socket = \"@STATE@/other.sock\""), holder: first)
        // Started inside the namespace without -n, as `ip netns exec NS mptcpctld` does.
        try expectRefused(Self.policy(), holder: first, viaIPNetnsExec: true)

        let after = try kernelState(record: first.statePath)
        #expect(after == before, "changed: \(Set(after.split(separator: "\n")).symmetricDifference(before.split(separator: "\n")))")
        #expect(try status()["pid"] as? Int == Int(first.process.processIdentifier), "the first daemon still serves")
        #expect(first.isRunning)

        // SIGKILL leaves no stale lock: the next daemon starts.
        first.kill()
        let next = try Daemon(namespace: lab.client, policy: Self.policy(), directory: first.directory)
        try next.waitRunning(seconds: 30)
        #expect(try status()["pid"] as? Int == Int(next.process.processIdentifier))
        #expect(next.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: "/run/mptcpctl/mptcpctld-\(lab.client).lock"), "a clean exit removes the lock file")
    }

    /// `ip netns exec NS mptcpctld` (no -n) is NS's daemon: its socket, lock and
    /// record are those of `-n NS`, so the CLI finds it either way, and a daemon
    /// started with `-n NS` loses to it.
    @Test func aDaemonStartedWithIPNetnsExecIsThatNamespacesDaemon() throws {
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy(), viaIPNetnsExec: true)
        try daemon.waitRunning(seconds: 30)
        #expect(FileManager.default.fileExists(atPath: socketPath), "its socket is \(socketPath)")
        #expect(FileManager.default.fileExists(atPath: daemon.statePath), "its record is \(daemon.statePath)")
        #expect(try status()["pid"] as? Int == Int(daemon.process.processIdentifier))
        let inside = try lab.exec(lab.client, [Repository.mptcpctl, "-j", "status"]).stdout
        let fromInside = try JSONSerialization.jsonObject(with: Data(inside.utf8)) as? [String: Any] ?? [:]
        #expect(fromInside["pid"] as? Int == Int(daemon.process.processIdentifier), "ip netns exec NS mptcpctl finds it")
        try expectRefused(Self.policy(), holder: daemon)
        #expect(daemon.stop() == 0)
    }

    @Test func theSettingsFoundAreRestoredAtExitEvenAfterACrashAndARestart() throws {
        try lab.exec(lab.client, ["ip", "mptcp", "limits", "set", "subflows", "1", "add_addr_accepted", "2"])
        try lab.exec(lab.client, ["sysctl", "-q", "-w", "net.mptcp.path_manager=kernel"])
        let found = try limits()

        let first = try Daemon(namespace: lab.client, policy: Self.policy(pathManager: "userspace"))
        try first.waitRunning(seconds: 30)
        #expect(try sysctl("net.mptcp.path_manager") == "userspace")
        #expect(try limits() == "add_addr_accepted 7 subflows 5")
        let record = try String(contentsOfFile: first.statePath, encoding: .utf8)
        #expect(record.contains("\"path_manager\"") && record.contains("\"found\" : \"kernel\""), "\(record)")

        // A crash gives nothing back; the next run adopts the record, and gives
        // back what the first one found, not what it found itself.
        first.kill()
        #expect(try sysctl("net.mptcp.path_manager") == "userspace")
        let second = try Daemon(namespace: lab.client, policy: Self.policy(pathManager: "userspace"), directory: first.directory)
        try second.waitRunning(seconds: 30)
        #expect(second.stop() == 0)
        #expect(try sysctl("net.mptcp.path_manager") == "kernel")
        #expect(try limits() == found)
        #expect(second.lines("restored path manager").first?["to"] == "kernel", "\(second.log)")
        #expect(!second.lines("restored limits").isEmpty, "\(second.log)")
        #expect(try !String(contentsOfFile: first.statePath, encoding: .utf8).contains("path_manager"), "the record is cleared")
    }

    @Test func aSettingChangedByAnotherWhileTheDaemonRunsIsLeftAsTheyMadeIt() throws {
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy(pathManager: "userspace"))
        try daemon.waitRunning(seconds: 30)
        try lab.exec(lab.client, ["ip", "mptcp", "limits", "set", "subflows", "3", "add_addr_accepted", "7"])
        #expect(daemon.stop() == 0)
        #expect(try sysctl("net.mptcp.path_manager") == "kernel")
        let after = try limits()
        #expect(after.contains("subflows 3"), "the limits they set stay: \(after)")
        #expect(!daemon.lines("not restoring a setting changed since by someone else").isEmpty, "\(daemon.log)")
    }

    @Test func theUserspacePathManagerAddsNoInKernelEndpointAndRemovesThoseItOwned() throws {
        // Endpoints added under the in-kernel path manager, kept at exit.
        let kernelMode = try Daemon(namespace: lab.client, policy: Self.policy(onExit: "keep"))
        try kernelMode.waitConverged()
        #expect(try kernelMode.endpoints().count == 4)
        #expect(kernelMode.stop() == 0)
        try lab.exec(lab.client, ["ip", "mptcp", "endpoint", "add", "10.0.3.1", "dev", "a3", "signal"])

        // The same state, now with the userspace path manager: the owned ones
        // go, the foreign one stays, none is added.
        let userspace = try Daemon(namespace: lab.client, policy: Self.policy(pathManager: "userspace"), directory: kernelMode.directory)
        try userspace.waitRunning(seconds: 30)
        #expect(try userspace.endpoints().map(\.address) == ["10.0.3.1"])
        #expect(try userspace.converged(), "plan agrees: nothing left to do")
        #expect(userspace.stop() == 0)
        #expect(try userspace.endpoints().map(\.address) == ["10.0.3.1"])
    }

    // MARK: check

    func check(_ arguments: [String]) throws -> CommandResult {
        try run(Repository.mptcpctl, ["-n", lab.client, "check"] + arguments, check: false)
    }

    func file(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("check-\(getpid())-\(UUID().uuidString.prefix(8)).toml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func checkRefusesWhatStartUpRefusesWithFileLineAndKey() throws {
        let path = try file("[daemon]\nresync_interval = 0\nsocket_group = \"no-such-group-h1\"\n[metrics]\nlisten = \"192.0.2.77:9464\"\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try check([path])
        #expect(result.status == 1)
        #expect(result.stderrLines == [
            "\(path):3: daemon.socket_group: no group \"no-such-group-h1\" on this system",
            "\(path):5: metrics.listen: 192.0.2.77 is not an address of namespace \(lab.client): the daemon could not listen on it",
        ], "\(result.stderr)")

        // The daemon refuses the same file with the same lines.
        let daemon = try Daemon(namespace: lab.client, policy: String(contentsOfFile: path, encoding: .utf8))
        try daemon.waitUntil("it exits") { !daemon.isRunning }
        #expect(daemon.status() == 1)
        #expect(daemon.log.contains("daemon.socket_group: no group \"no-such-group-h1\" on this system"), "\(daemon.log)")

        let blocked = try file("[daemon]\nstate_directory = \"/proc/version/x\"\n[hooks]\ndirectory = \"/etc/hostname\"\n")
        defer { try? FileManager.default.removeItem(atPath: blocked) }
        let paths = try check([blocked])
        #expect(paths.status == 1)
        #expect(paths.stderrLines.count == 2, "\(paths.stderr)")
        #expect(paths.stderr.contains(":2: daemon.state_directory:") && paths.stderr.contains(":4: hooks.directory: /etc/hostname exists and is not a directory"),
                "\(paths.stderr)")
    }

    @Test func emptyFilesOfEveryFormAreTheValidDefaultPolicyForCheckAndForTheDaemon() throws {
        let empty = try file("")
        let comments = try file("# to be written\n\n   \n")
        defer {
            try? FileManager.default.removeItem(atPath: empty)
            try? FileManager.default.removeItem(atPath: comments)
        }
        for path in ["/dev/null", empty, comments] {
            let result = try check([path])
            #expect(result.status == 0, "\(path): \(result.stderr)")
            #expect(result.stdout == "\(path): valid (0 [[interface]] blocks, 0 [[connection]] blocks)\n")
        }
        // The daemon starts with one and serves.
        let daemon = try Daemon(namespace: lab.client, policy: "")
        try daemon.waitRunning(seconds: 30)
        #expect(try status()["pid"] as? Int == Int(daemon.process.processIdentifier))
        #expect(daemon.stop() == 0)
    }

    @Test func checkWarnsAboutIgnoredConnectionBlocksCountsEveryKindAndSpeaksJSON() throws {
        let hooks = FileManager.default.temporaryDirectory.appendingPathComponent("check-hooks-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: hooks, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: hooks + "/10-log", contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        _ = FileManager.default.createFile(atPath: hooks + "/README", contents: Data("not a hook\n".utf8), attributes: [.posixPermissions: 0o644])
        let path = try file(Self.policy().replacingOccurrences(of: "@STATE@", with: "/tmp")
                            + "\n[[connection]]\nname = \"bulk\"\n[hooks]\ndirectory = \"\(hooks)\"\n")
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: hooks)
        }
        let text = try check([path])
        #expect(text.status == 0)
        #expect(text.stdout == "\(path): valid (2 [[interface]] blocks, 1 [[connection]] block; 1 hook in \(hooks))\n")
        #expect(text.stderrLines.count == 1 && text.stderr.hasPrefix("warning: \(path):15: connection[1]: this [[connection]] block is ignored"),
                "\(text.stderr)")

        for flag in ["-j", "--json"] {
            let json = try check([flag, path])
            #expect(json.status == 0 && json.stderr.isEmpty, "\(json.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            #expect(object?["valid"] as? Bool == true)
            #expect(object?["counts"] as? [String: Int] == ["interface": 2, "connection": 1, "hooks": 1])
            let warning = (object?["warnings"] as? [[String: Any]])?.first
            #expect(warning?["line"] as? Int == 15 && warning?["key"] as? String == "connection[1]" && warning?["file"] as? String == path)
            #expect((object?["problems"] as? [Any])?.isEmpty == true)
        }

        let bad = try file("[kernel]\non_exit = \"maybe\"\n")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let refused = try check(["--json", bad])
        #expect(refused.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(refused.stdout.utf8)) as? [String: Any]
        #expect(object?["valid"] as? Bool == false)
        let problem = (object?["problems"] as? [[String: Any]])?.first
        #expect(problem?["line"] as? Int == 2 && problem?["key"] as? String == "kernel.on_exit" && problem?["file"] as? String == bad)
        #expect((problem?["message"] as? String)?.contains("is not one of: remove, keep") == true)

        // plan takes -j as well.
        let plan = try run(Repository.mptcpctl, ["-n", lab.client, "plan", "-j", "--config", path], check: false)
        #expect(plan.status == 2, "\(plan.stderr)")
        #expect((try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])?["changes"] != nil)
    }
}
