import Foundation
import Testing

/// Kernel tests need root, network namespaces and MPTCP. Outside CI they skip
/// with the reason; with `MPTCPCTL_REQUIRE_KERNEL_TESTS=1` (CI) they run and a
/// missing capability is a failure.
enum KernelRequirement {
    static let required = ProcessInfo.processInfo.environment["MPTCPCTL_REQUIRE_KERNEL_TESTS"] == "1"

    /// Why kernel tests cannot run here, or nil when they can.
    static let missing: String? = {
        if geteuid() != 0 { return "kernel tests need root (CAP_NET_ADMIN and CAP_SYS_ADMIN for namespaces)" }
        if !FileManager.default.fileExists(atPath: "/proc/sys/net/mptcp/enabled") { return "this kernel has no MPTCP (/proc/sys/net/mptcp missing)" }
        for tool in ["/usr/sbin/ip", "/usr/bin/ss", "/usr/sbin/tc"] where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) is missing (install iproute2)"
        }
        if Repository.python == nil { return "python3 is missing" }
        return nil
    }()

    /// Run the test when the kernel is usable, or when CI demands it (so it fails loudly).
    static var enabled: Bool { missing == nil || required }

    static let comment: Comment = "kernel tests skipped: \(missing ?? "") (set MPTCPCTL_REQUIRE_KERNEL_TESTS=1 to make this a failure)"

    /// Fails the test when the kernel is unusable (only reached when required).
    static func check() throws {
        if let missing { throw LabError("kernel tests required but cannot run: \(missing)") }
    }
}

struct LabError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Paths of the repository and the tools the tests drive.
enum Repository {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    static var labScript: String { root.appendingPathComponent("scripts/lab/lab").path }
    static var peerScript: String { root.appendingPathComponent("scripts/lab/mptcp-peer.py").path }

    /// The CLI under test: `$MPTCPCTL_BIN`, else the debug build.
    static var mptcpctl: String {
        ProcessInfo.processInfo.environment["MPTCPCTL_BIN"] ?? root.appendingPathComponent(".build/debug/mptcpctl").path
    }

    /// The daemon under test: `$MPTCPCTLD_BIN`, else the debug build.
    static var mptcpctld: String {
        ProcessInfo.processInfo.environment["MPTCPCTLD_BIN"] ?? root.appendingPathComponent(".build/debug/mptcpctld").path
    }

    static let python: String? = {
        let candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map { "\($0)/python3" }
        return (candidates + ["/usr/bin/python3"]).first { FileManager.default.isExecutableFile(atPath: $0) }
    }()
}

/// `make test-sanitize` sets MPTCPCTL_SANITIZER: under AddressSanitizer the
/// daemon's RSS is the allocator's quarantine and shadow memory, not its own,
/// so memory bounds are checked only in plain builds.
enum Sanitizer {
    static let name = ProcessInfo.processInfo.environment["MPTCPCTL_SANITIZER"]
    static var checksMemory: Bool { name == nil }
}
