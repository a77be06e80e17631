import ArgumentParser
import FoundationEssentials
import Logging
import MPTCPAPI
import MPTCPKit
import Metrics
import MPTCPPolicy
import Prometheus
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Reads and validates a policy file, checking it against the running kernel
/// when its sysctls can be read, and against the system (`SystemChecks`): the
/// one way start-up, reload, `--check` and `--plan` read a policy.
enum PolicyFile {
    struct Problems: Error {
        var file: String
        var diagnostics: [PolicyDiagnostic]

        /// `FILE:LINE: KEY: message`, one per problem.
        var lines: [String] { diagnostics.map { $0.formatted(file: file) } }

        init(file: String, diagnostics: [PolicyDiagnostic]) {
            self.file = file
            self.diagnostics = diagnostics
        }

        /// A problem with the file as a whole (it cannot be read).
        init(file: String, _ message: String) {
            self.init(file: file, diagnostics: [PolicyDiagnostic(line: nil, key: "", message: message)])
        }
    }

    /// How long the file must have been left alone before it is read, and how
    /// long to wait for that at most.
    static let settle = Duration.milliseconds(200)
    static let patience = Duration.seconds(3)

    /// Reads `path` once it has stopped changing: a file replaced atomically
    /// (rename) is read whole at once; one being rewritten in place is read only
    /// once no process has it open for writing (a read lease tells) and no
    /// write has touched it for `settle`, so a half-written file is never
    /// applied. One that keeps changing for `patience` is refused (the running
    /// policy stays). A device (`/dev/null`) is read once to its end; a pipe
    /// (FIFO), a socket or a directory is refused, never waited on.
    ///
    /// An empty file, like one of only blank lines and comments, is a valid
    /// policy with every default (`mptcpctld.toml(5)`): the rule is the
    /// loader's, whatever kind of file the bytes come from.
    static func load(path: String, namespace: NetworkNamespace) -> Result<CheckedPolicy, Problems> {
        let bytes: [UInt8]
        switch settledBytes(path) {
        case .success(let b): bytes = b
        case .failure(let problem): return .failure(problem)
        }
        do {
            return .success(try PolicyLoader.check(bytes: bytes, file: path, offer: KernelHandle.offer(namespace: namespace),
                                                   environment: SystemChecks(namespace: namespace)))
        } catch {
            return .failure(Problems(file: path, diagnostics: error.diagnostics))
        }
    }
}

extension PolicyFile {
    /// Kinds of file that never hold a policy: a directory, and the ones a read
    /// could wait on forever (a pipe with no writer, a socket).
    private static let refusedKinds: [mode_t: String] = [
        S_IFDIR: "a directory", S_IFIFO: "a pipe (FIFO)", S_IFSOCK: "a socket",
    ]

    /// The whole content of `path` (any kind of file), with its identity and
    /// time stamp when it is a regular file that did not change while read
    /// (`stamp` empty: it did, or it is no regular file).
    private static func read(_ path: String) -> Result<(bytes: [UInt8], stamp: [Int], regular: Bool), Problems> {
        // O_NONBLOCK: opening a FIFO would otherwise wait for a writer forever
        // (at start-up, or on SIGHUP in the service's loop); what it opened is
        // judged by fstat below, and blocking reads restored for the rest.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let code = errno
            if code == ENXIO { return .failure(Problems(file: path, "is a socket, not a policy file")) }
            return .failure(Problems(file: path, code == ENOENT ? "does not exist" : "cannot be read: \(String(cString: strerror(code)))"))
        }
        defer { close(fd) }
        var before = stat()
        guard fstat(fd, &before) == 0 else { return .failure(Problems(file: path, "cannot be read: \(String(cString: strerror(errno)))")) }
        if let kind = Self.refusedKinds[before.st_mode & S_IFMT] {
            return .failure(Problems(file: path, "is \(kind), not a policy file"))
        }
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
            return .failure(Problems(file: path, "cannot be read: \(String(cString: strerror(errno)))"))
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(Problems(file: path, "cannot be read: \(String(cString: strerror(errno)))"))
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
            // A policy is a few KiB; a runaway pipe or device is not one.
            if bytes.count > 16 << 20 { return .failure(Problems(file: path, "is larger than 16 MiB: not a policy file")) }
        }
        let regular = before.st_mode & S_IFMT == S_IFREG
        guard regular else { return .success((bytes, [], false)) }
        var after = stat()
        guard stat(path, &after) == 0 else { return .failure(Problems(file: path, "does not exist")) }
        let stamp = [Int(after.st_ino), Int(after.st_size), after.st_mtim.tv_sec, after.st_mtim.tv_nsec]
        let same = stamp == [Int(before.st_ino), Int(before.st_size), before.st_mtim.tv_sec, before.st_mtim.tv_nsec]
        return .success((bytes, same ? stamp : [], true))
    }

    /// Whether some process has `path` open for writing: a read lease
    /// (fcntl F_SETLEASE, F_RDLCK) is refused exactly then. Nil when the lease
    /// cannot be asked for here (not the file's owner, a file system without
    /// leases): the caller then goes by time alone.
    private static func beingWritten(_ path: String) -> Bool? {
        let setLease: Int32 = 1024  // F_SETLEASE (F_LINUX_SPECIFIC_BASE), hidden from Swift's Glibc
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if fcntl(fd, setLease, Int32(F_RDLCK)) == 0 {
            _ = fcntl(fd, setLease, Int32(F_UNLCK))
            return false
        }
        return errno == EAGAIN ? true : nil
    }

    private static func settledBytes(_ path: String) -> Result<[UInt8], Problems> {
        var info = stat()
        if stat(path, &info) == 0 && info.st_mode & S_IFMT != S_IFREG {
            // A device or a pipe has no half-written state to wait out.
            return read(path).map(\.bytes)
        }
        let clock = ContinuousClock()
        let deadline = clock.now + patience
        var previous: (bytes: [UInt8], stamp: [Int])?
        while true {
            if clock.now >= deadline {
                return .failure(Problems(file: path, "still being written after \(patience) (open for writing, or changing); not read"))
            }
            // Someone has it open for writing: wait until they close it.
            let writing = beingWritten(path)
            if writing == true {
                pause(.milliseconds(50))
                continue
            }
            let current: (bytes: [UInt8], stamp: [Int])
            switch read(path) {
            case .success(let c):
                if !c.regular { return .success(c.bytes) }  // replaced by a device or pipe meanwhile
                current = (c.bytes, c.stamp)
            case .failure(let p): return .failure(p)
            }
            if current.stamp.isEmpty {
                // Changed while it was read.
                pause(.milliseconds(50))
                continue
            }
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let age = Duration.seconds(now.tv_sec - current.stamp[2]) + .nanoseconds(now.tv_nsec - current.stamp[3])
            // Nobody writing it and nothing changed while it was read, or written
            // long ago (the usual case): one read is enough. Otherwise (a writer
            // that reopens it between parts, or no lease to tell) two reads
            // `settle` apart must agree.
            if (writing == false && age >= settle) || age >= settle * 5 { return .success(current.bytes) }
            if let previous, previous.stamp == current.stamp, previous.bytes == current.bytes, age >= settle {
                return .success(current.bytes)
            }
            previous = current
            pause(settle)
        }
    }
}

/// A blocking sleep (the loader runs on the service's loop, the API's worker
/// thread or `--check`, never on an event loop).
private func pause(_ d: Duration) {
    let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    usleep(UInt32(clamping: ms * 1000))
}
