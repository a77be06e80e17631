import Glibc

/// The MPTCP sysctls of a namespace (`/proc/sys/net/mptcp`): path-manager and
/// packet-scheduler selection. Files are opened inside the namespace, because
/// `/proc/sys/net` shows the namespace of the thread that opens it.
public struct MPTCPSysctl: Sendable {
    public let namespace: NetworkNamespace
    static let directory = "/proc/sys/net/mptcp/"

    public init(namespace: NetworkNamespace = .current) {
        self.namespace = namespace
    }

    /// `net.mptcp.path_manager` (6.15+), or `net.mptcp.pm_type` (0 = kernel,
    /// 1 = userspace) on older kernels.
    public func pathManager() throws(MPTCPError) -> String {
        try namespace.perform { () throws(MPTCPError) -> String in
            if let name = try Self.readIfPresent("path_manager") { return name }
            switch try Self.read("pm_type") {
            case "0": return "kernel"
            case "1": return "userspace"
            case let other: return "pm_type \(other)"
            }
        }
    }

    /// `net.mptcp.available_path_managers`; on kernels before 6.15, the two that `pm_type` offers.
    public func availablePathManagers() throws(MPTCPError) -> [String] {
        try namespace.perform { () throws(MPTCPError) -> [String] in
            if let list = try Self.readIfPresent("available_path_managers") { return Self.words(list) }
            _ = try Self.read("pm_type")
            return ["kernel", "userspace"]
        }
    }

    /// Selects the path manager for connections created from now on.
    /// A name the kernel does not offer is refused before anything is written.
    public func setPathManager(_ name: String) throws(MPTCPError) {
        try namespace.perform { () throws(MPTCPError) in
            let newStyle = FileManagerless.exists(Self.directory + "path_manager")
            let available = newStyle ? Self.words(try Self.read("available_path_managers")) : ["kernel", "userspace"]
            guard available.contains(name) else {
                throw .invalidArgument("set path manager",
                                       "the kernel offers no path manager '\(name)'; available: \(available.joined(separator: ", "))")
            }
            if newStyle {
                try Self.write("path_manager", name)
            } else {
                try Self.write("pm_type", name == "userspace" ? "1" : "0")
            }
        }
    }

    /// `net.mptcp.scheduler`
    public func scheduler() throws(MPTCPError) -> String {
        try namespace.perform { () throws(MPTCPError) -> String in try Self.read("scheduler") }
    }

    /// `net.mptcp.available_schedulers`
    public func availableSchedulers() throws(MPTCPError) -> [String] {
        try namespace.perform { () throws(MPTCPError) -> [String] in Self.words(try Self.read("available_schedulers")) }
    }

    /// Selects the packet scheduler for sockets created from now on.
    /// A name the kernel does not offer is refused before anything is written.
    public func setScheduler(_ name: String) throws(MPTCPError) {
        try namespace.perform { () throws(MPTCPError) in
            let available = Self.words(try Self.read("available_schedulers"))
            guard available.contains(name) else {
                throw .invalidArgument("set scheduler",
                                       "the kernel offers no scheduler '\(name)'; available: \(available.joined(separator: ", "))")
            }
            try Self.write("scheduler", name)
        }
    }

    // MARK: File access (runs on the namespace's thread)

    static func words(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
    }

    static func readIfPresent(_ name: String) throws(MPTCPError) -> String? {
        guard FileManagerless.exists(directory + name) else { return nil }
        return try read(name)
    }

    static func read(_ name: String) throws(MPTCPError) -> String {
        try readFile(directory + name, operation: "read net.mptcp.\(name)")
    }

    static func write(_ name: String, _ value: String) throws(MPTCPError) {
        try writeFile(directory + name, value, operation: "write net.mptcp.\(name) = \(value)")
    }

    /// Reads a sysctl file, without its trailing newline. `missing` is the error
    /// for a file that does not exist (by default: no MPTCP in this kernel).
    static func readFile(_ path: String, operation: String, missing: MPTCPError? = nil) throws(MPTCPError) -> String {
        let fd = try sysctlCall(operation, missing: missing) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            let n = try sysctlCall(operation) { chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        var text = String(decoding: bytes, as: UTF8.self)
        while text.last == "\n" || text.last == " " { text.removeLast() }
        return text
    }

    /// Writes `value` and a newline to a sysctl file in one write.
    static func writeFile(_ path: String, _ value: String, operation: String, missing: MPTCPError? = nil) throws(MPTCPError) {
        let fd = try sysctlCall(operation, missing: missing) { open(path, O_WRONLY | O_CLOEXEC) }
        defer { close(fd) }
        let bytes = Array((value + "\n").utf8)
        let n = try sysctlCall(operation) { bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
        guard n == bytes.count else { throw .system(operation, errno: EIO) }
    }

    /// `systemCall` for a sysctl file: a missing one means the kernel has no
    /// MPTCP, unless `missing` says what else it means.
    static func sysctlCall<I: FixedWidthInteger>(_ operation: String, missing: MPTCPError? = nil,
                                                 _ call: () -> I) throws(MPTCPError) -> I {
        switch valueOrErrno(call) {
        case .success(let value): return value
        case .failure(let errno) where errno.rawValue == ENOENT:
            throw missing ?? .notFound(operation, nil, errno: ENOENT, hint: "is MPTCP enabled in this kernel (CONFIG_MPTCP)?")
        case .failure(let errno): throw .system(operation, errno: errno.rawValue)
        }
    }
}

/// File existence without Foundation (the CLI avoids Foundation to start fast).
enum FileManagerless {
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}
