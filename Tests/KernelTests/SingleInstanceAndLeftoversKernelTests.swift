import Foundation
import MPTCPAPI
import MPTCPKit
import Testing
#if canImport(Glibc)
import Glibc
#endif

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

    /// The daemon's `status`, once its socket exists (the control server is a
    /// service of its own: "running" may come before its socket).
    func status() throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: socketPath), Date() < deadline { usleep(20_000) }
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

    /// `/run/mptcpctl/mptcpctld-netINODE.lock`: named after the namespace's inode.
    static func lockPath(namespaceFile: String) throws -> String {
        var info = stat()
        guard stat(namespaceFile, &info) == 0 else { throw LabError("cannot stat \(namespaceFile)") }
        return "/run/mptcpctl/mptcpctld-net\(info.st_ino).lock"
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
        let lock = try Self.lockPath(namespaceFile: "/run/netns/\(lab.client)")
        #expect(!FileManager.default.fileExists(atPath: lock), "a clean exit removes the lock file \(lock)")
    }

    /// `ip netns exec NS mptcpctld` (no -n) is NS's daemon: its socket, lock and
    /// record are those of `-n NS`, so the CLI finds it either way, and a daemon
    /// started with `-n NS` loses to it.
    @Test func aDaemonStartedWithIPNetnsExecIsThatNamespacesDaemon() throws {
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy(), viaIPNetnsExec: true)
        try daemon.waitRunning(seconds: 30)
        // The control server is a service of its own: "running" may come before its socket.
        try daemon.waitUntil("its socket is \(socketPath)", seconds: 30) { FileManager.default.fileExists(atPath: socketPath) }
        #expect(FileManager.default.fileExists(atPath: daemon.statePath), "its record is \(daemon.statePath)")
        #expect(try status()["pid"] as? Int == Int(daemon.process.processIdentifier))
        let inside = try lab.exec(lab.client, [Repository.mptcpctl, "-j", "status"]).stdout
        let fromInside = try JSONSerialization.jsonObject(with: Data(inside.utf8)) as? [String: Any] ?? [:]
        #expect(fromInside["pid"] as? Int == Int(daemon.process.processIdentifier), "ip netns exec NS mptcpctl finds it")
        try expectRefused(Self.policy(), holder: daemon)
        #expect(daemon.stop() == 0)
    }

    /// Two names for one namespace (a second bind mount, as `ip netns attach`
    /// makes) are one namespace: the lock is its inode's, not a name's.
    @Test func aNamespaceKnownByTwoNamesHasOneDaemon() throws {
        let alias = lab.client + "-alias"
        let aliasFile = "/run/netns/" + alias
        _ = FileManager.default.createFile(atPath: aliasFile, contents: nil)
        try run("/usr/bin/mount", ["--bind", "/run/netns/\(lab.client)", aliasFile])
        defer {
            _ = try? run("/usr/bin/umount", [aliasFile], check: false)
            try? FileManager.default.removeItem(atPath: aliasFile)
        }
        let first = try Daemon(namespace: lab.client, policy: Self.policy())
        try first.waitConverged()
        try first.waitRunning()
        #expect(FileManager.default.fileExists(atPath: try Self.lockPath(namespaceFile: aliasFile)), "the lock is named by the inode")
        let before = try kernelState(record: first.statePath)

        let loser = try Daemon(namespace: alias, policy: Self.policy(pathManager: "userspace", subflows: 2))
        try loser.waitUntil("the second daemon exits", seconds: 30) { !loser.isRunning }
        #expect(loser.status() == 1)
        let lines = loser.log.split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.contains(
            "another daemon serves this network namespace: pid \(first.process.processIdentifier), socket \(socketPath)") == true,
                "\(loser.log)")
        #expect(!FileManager.default.fileExists(atPath: loser.statePath), "the loser wrote no record")
        #expect(try kernelState(record: first.statePath) == before)
        #expect(try status()["pid"] as? Int == Int(first.process.processIdentifier), "the first daemon still serves")
        #expect(first.stop() == 0)
    }

    /// A namespace with no name (`unshare -n`): the default socket and record
    /// would be the host daemon's, so the daemon refuses, having changed
    /// nothing, unless the policy gives it a socket and a state directory of its own.
    @Test func aDaemonInAnUnnamedNamespaceNeedsASocketAndStateDirectoryOfItsOwn() throws {
        let policy = "[daemon]\nstate_directory = \"@STATE@\"\nresync_interval = 0\n[kernel]\nlimits = { subflows = 3, add_addr_accepted = 3 }\n"
        let hostSocket = defaultControlSocketPath(namespace: nil)
        let hostSocketExisted = FileManager.default.fileExists(atPath: hostSocket)
        let refused = try Daemon(namespace: "unnamed", policy: policy, launcher: ["/usr/bin/unshare", "-n"])
        try refused.waitUntil("the daemon exits", seconds: 30) { !refused.isRunning }
        #expect(refused.status() == 1, "\(refused.log)")
        let lines = refused.log.split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.contains("daemon.socket: this is an unnamed network namespace") == true, "\(refused.log)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: refused.stateDirectory)) ?? [] == [], "no record written")
        #expect(FileManager.default.fileExists(atPath: hostSocket) == hostSocketExisted, "the host's socket is left alone")

        // Only a socket of its own is not enough: the record would still be the host's.
        let ownSocket = refused.directory.appendingPathComponent("own.sock").path
        let withSocket = policy.replacingOccurrences(of: "[daemon]\n", with: "[daemon]\nsocket = \"\(ownSocket)\"\n")
        let socketOnly = try Daemon(namespace: "unnamed", policy: withSocket.replacingOccurrences(of: "state_directory = \"@STATE@\"\n", with: ""),
                                    directory: refused.directory, launcher: ["/usr/bin/unshare", "-n"])
        try socketOnly.waitUntil("the daemon exits", seconds: 30) { !socketOnly.isRunning }
        #expect(socketOnly.status() == 1)
        #expect(socketOnly.log.contains("daemon.state_directory: this is an unnamed network namespace"), "\(socketOnly.log)")

        let own = try Daemon(namespace: "unnamed", policy: withSocket, directory: refused.directory, launcher: ["/usr/bin/unshare", "-n"])
        try own.waitRunning(seconds: 30)
        // The control server is a service of its own: "running" may come before its socket.
        try own.waitUntil("it serves on its own socket", seconds: 30) { FileManager.default.fileExists(atPath: ownSocket) }
        #expect(FileManager.default.fileExists(atPath: own.stateDirectory + "/endpoints-host.json"), "its record is in its own directory")
        #expect(own.stop() == 0)
    }

    /// A start-up failure (here: no MPTCP event socket, which the userspace
    /// path manager needs) comes before any change: the daemon exits 1 and the
    /// kernel is as it was, with nothing recorded to give back.
    @Test func aDaemonThatCannotListenToMPTCPEventsStopsBeforeChangingAnything() throws {
        // Taken before the daemon starts; no record exists yet ("no record").
        let before = try kernelState(record: "/nonexistent/endpoints.json")
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy(pathManager: "userspace", subflows: 2),
                                environment: ["MPTCPCTLD_DEBUG_FAIL_EVENT_SUBSCRIPTION": "1"])
        try daemon.waitUntil("the daemon exits", seconds: 30) { !daemon.isRunning }
        #expect(daemon.status() == 1, "\(daemon.log)")
        #expect(daemon.log.contains("MPTCPCTLD_DEBUG_FAIL_EVENT_SUBSCRIPTION"), "\(daemon.log)")
        let after = try kernelState(record: daemon.statePath)
        #expect(after == before, "changed: \(Set(after.split(separator: "\n")).symmetricDifference(before.split(separator: "\n")))")
        #expect(daemon.lines("set path manager").isEmpty && daemon.lines("set limits").isEmpty, "\(daemon.log)")
    }

    /// A FIFO (or socket) as the policy file is refused with a clear line: it
    /// would otherwise block the reader forever, at start-up, in `--check`,
    /// and on SIGHUP (which would hang the daemon's loop).
    @Test func aPipeAsThePolicyFileIsRefusedNotWaitedOn() throws {
        let fifo = FileManager.default.temporaryDirectory.appendingPathComponent("policy-fifo-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try run("/usr/bin/mkfifo", [fifo])
        defer { try? FileManager.default.removeItem(atPath: fifo) }
        let check = Process()
        check.executableURL = URL(fileURLWithPath: Repository.mptcpctld)
        check.arguments = ["-n", lab.client, "--check", "--config", fifo]
        let stderr = Pipe()
        check.standardError = stderr
        check.standardOutput = FileHandle.nullDevice
        try check.run()
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while check.isRunning && clock.now < deadline { usleep(50_000) }
        let hung = check.isRunning
        if hung { Glibc.kill(check.processIdentifier, SIGKILL) }
        check.waitUntilExit()
        #expect(!hung, "--check waited on the FIFO")
        let text = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(check.terminationStatus == 1)
        #expect(text == "\(fifo): is a pipe (FIFO), not a policy file\n", "\(text)")

        // On SIGHUP the running daemon refuses it and keeps serving.
        let daemon = try Daemon(namespace: lab.client, policy: Self.policy())
        try daemon.waitRunning(seconds: 30)
        let reloads = try daemon.subscribe([.policy])
        try FileManager.default.removeItem(atPath: daemon.configPath)
        try run("/usr/bin/mkfifo", [daemon.configPath])
        daemon.signal(SIGHUP)
        try reloads.first("the refused reload", seconds: 60) {
            $0.type == "reload_refused" && $0["problems"]?.contains("is a pipe (FIFO)") == true
        }
        #expect(try status()["pid"] as? Int == Int(daemon.process.processIdentifier))
        #expect(daemon.stop() == 0, "the loop still answers SIGTERM")
    }

    /// A restore that fails for one setting keeps only that one recorded: the
    /// others, given back, leave the record at once, so the next run does not
    /// report them as "changed since by someone else".
    @Test func aPartialRestoreKeepsOnlyTheSettingThatFailedRecorded() throws {
        let first = try Daemon(namespace: lab.client, policy: Self.policy(pathManager: "userspace"))
        try first.waitRunning(seconds: 30)
        first.kill()
        // A scheduler the daemon "set", found at a value that cannot be given
        // back (no such scheduler): its restore fails, the others succeed.
        let scheduler = try sysctl("net.mptcp.scheduler")
        let data = try Data(contentsOf: URL(fileURLWithPath: first.statePath))
        var record = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var settings = try #require(record["settings"] as? [String: Any])
        #expect(settings["path_manager"] != nil, "\(settings)")
        settings["scheduler"] = ["found": "no-such-scheduler", "set": scheduler]
        record["settings"] = settings
        try JSONSerialization.data(withJSONObject: record).write(to: URL(fileURLWithPath: first.statePath))

        let second = try Daemon(namespace: lab.client, policy: Self.policy(pathManager: "userspace"), directory: first.directory)
        try second.waitRunning(seconds: 30)
        #expect(second.stop() == 0)
        #expect(try sysctl("net.mptcp.path_manager") == "kernel")
        #expect(second.lines("restored path manager").first?["to"] == "kernel", "\(second.log)")
        #expect(!second.lines("cannot restore a kernel setting (recorded for the next run)").isEmpty, "\(second.log)")
        let left = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: first.statePath))) as? [String: Any])
        let kept = (left["settings"] as? [String: Any]) ?? [:]
        #expect(Set(kept.keys) == ["scheduler"], "only the failed restore stays recorded: \(kept)")

        // The next run gives back nothing more and reports nothing as changed by someone else.
        let third = try Daemon(namespace: lab.client, policy: Self.policy(), directory: first.directory)
        try third.waitRunning(seconds: 30)
        #expect(third.stop() == 0)
        #expect(third.lines("not restoring a setting changed since by someone else").isEmpty, "\(third.log)")
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
