import Foundation
import MPTCPKit

/// A running `mptcpctld` in a lab namespace, with its policy file, state
/// directory and log in a temporary directory. `deinit` kills it.
final class Daemon: @unchecked Sendable {
    let namespace: String
    let directory: URL
    let process = Process()
    var configPath: String { directory.appendingPathComponent("policy.toml").path }
    var logPath: String { directory.appendingPathComponent("daemon.log").path }
    var stateDirectory: String { directory.appendingPathComponent("state").path }

    /// Writes `policy` (`@STATE@` becomes the state directory) and starts the daemon.
    init(namespace: String, policy: String, directory: URL? = nil) throws {
        self.namespace = namespace
        self.directory = directory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("mptcpctld-test-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        try write(policy: policy)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Repository.mptcpctld)
        process.arguments = ["-n", namespace, "--config", configPath, "--log-level", "debug"]
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit { kill() }

    func write(policy: String) throws {
        try policy.replacingOccurrences(of: "@STATE@", with: stateDirectory)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Rewrites the policy and sends SIGHUP.
    func reload(policy: String) throws {
        try write(policy: policy)
        Glibc.kill(process.processIdentifier, SIGHUP)
    }

    /// SIGTERM, then waits (SIGKILL after 10 s); returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        Glibc.kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// SIGKILL: no clean-up at all.
    func kill() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// `mptcpctl plan` with this daemon's policy: true when it exits 0 (nothing to do).
    func converged() throws -> Bool {
        let result = try run(Repository.mptcpctl, ["-n", namespace, "plan", "--config", configPath], check: false)
        if result.status != 0 && result.status != 2 {
            throw LabError("mptcpctl plan failed (\(result.status)): \(result.stderr)")
        }
        return result.status == 0
    }

    /// Polls `condition` until it holds or `seconds` pass; the error carries the daemon's log.
    func waitUntil(_ what: String, seconds: Double = 10, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return }
            if !process.isRunning { throw LabError("mptcpctld exited (\(process.terminationStatus)) before \(what):\n\(log)") }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw LabError("not within \(seconds) s: \(what)\n--- mptcpctld log ---\n\(log)")
    }

    func waitConverged(seconds: Double = 10) throws {
        try waitUntil("the kernel matches the policy", seconds: seconds) { try converged() }
    }
}
