import FoundationEssentials
import MPTCPKit
#if canImport(Glibc)
import Glibc
#endif

/// One daemon per network namespace: an exclusive `flock(2)` on
/// `/run/mptcpctl/mptcpctld-netINODE.lock`, named after the namespace's inode
/// (what `ip netns identify` and `/proc/PID/ns/net` go by), not after a name:
/// a namespace known by two names (`ip netns attach`, a second bind mount, a
/// name for the host's own) still has one lock. Taken before the daemon reads
/// or changes anything and held for the life of the process. The kernel drops it when
/// the process dies however it dies, so SIGKILL never leaves a stale lock.
/// The lock does not depend on the policy: two daemons with different
/// `socket` or `state_directory` settings in one namespace still collide.
/// The holder writes its pid and control socket into the file, so the one
/// that loses can say who holds it.
final class InstanceLock: Sendable {
    /// Where lock files live (not configurable: every daemon must find the same file).
    static let directory = "/run/mptcpctl"

    let path: String
    private let fd: Int32

    /// The lock file of `namespace`: named after the inode of its namespace
    /// file (`/run/netns/NAME`, or the process's own for the current one), so
    /// every name of one namespace leads to the same file.
    static func path(namespace: NetworkNamespace) throws(Failure) -> String {
        let file = namespace.path ?? "/proc/self/ns/net"
        var info = stat()
        guard stat(file, &info) == 0 else {
            throw .unidentified(file: file, errno: errno)
        }
        return directory + "/mptcpctld-net\(info.st_ino).lock"
    }

    /// Who holds the lock, as the holder wrote it.
    struct Holder: Equatable {
        var pid: Int32?
        var socket: String?
    }

    enum Failure: Error, CustomStringConvertible {
        /// Another daemon runs in this namespace.
        case held(path: String, holder: Holder)
        /// The file could not be made or locked.
        case system(path: String, what: String, errno: Int32)
        /// The namespace's file (which names the lock) cannot be read.
        case unidentified(file: String, errno: Int32)

        var description: String {
            switch self {
            case .held(let path, let holder):
                let pid = holder.pid.map(String.init) ?? "unknown"
                let socket = holder.socket ?? "unknown"
                return "another daemon serves this network namespace: pid \(pid), socket \(socket) (lock \(path)); stop that one first"
            case .system(let path, let what, let code):
                return "cannot \(what) the single-instance lock \(path): \(String(cString: strerror(code)))"
            case .unidentified(let file, let code):
                return "cannot identify the network namespace for the single-instance lock: \(file): \(String(cString: strerror(code)))"
            }
        }
    }

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Takes the lock of `namespace` and records `socket` in it, or throws
    /// `.held` naming the holder. Changes nothing when it loses.
    static func acquire(namespace: NetworkNamespace, socket: String) throws(Failure) -> InstanceLock {
        let path = try path(namespace: namespace)
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw .system(path: path, what: "create the directory of", errno: errno)
        }
        while true {
            // O_CLOEXEC: a hook (or any child) must not inherit the lock and
            // keep it past the daemon's death.
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard fd >= 0 else { throw .system(path: path, what: "open", errno: errno) }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                guard code == EWOULDBLOCK else {
                    close(fd)
                    throw .system(path: path, what: "lock", errno: code)
                }
                let holder = readHolder(fd)
                close(fd)
                throw .held(path: path, holder: holder)
            }
            // A holder that exited cleanly unlinked the file after we opened
            // it: our lock is on a file nobody else will open. Start again.
            var mine = stat(), named = stat()
            guard fstat(fd, &mine) == 0, stat(path, &named) == 0,
                  mine.st_dev == named.st_dev, mine.st_ino == named.st_ino else {
                close(fd)
                continue
            }
            let text = "pid=\(getpid())\nsocket=\(socket)\n"
            let bytes = Array(text.utf8)
            guard ftruncate(fd, 0) == 0,
                  bytes.withUnsafeBytes({ pwrite(fd, $0.baseAddress, $0.count, 0) }) == bytes.count else {
                let code = errno
                close(fd)
                throw .system(path: path, what: "write", errno: code)
            }
            return InstanceLock(path: path, fd: fd)
        }
    }

    /// At a clean exit: the file goes, then the lock (a daemon that opened the
    /// file meanwhile sees it was unlinked and opens it anew).
    func release() {
        unlink(path)
        close(fd)
    }

    /// The holder's pid and socket. It writes them right after locking, so a
    /// loser that comes in between waits a moment for them.
    private static func readHolder(_ fd: Int32) -> Holder {
        var holder = Holder()
        for _ in 0..<50 {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                for line in String(decoding: buffer[..<n], as: UTF8.self).split(separator: "\n") {
                    if line.hasPrefix("pid=") { holder.pid = Int32(line.dropFirst(4)) }
                    if line.hasPrefix("socket=") { holder.socket = String(line.dropFirst(7)) }
                }
                if holder.pid != nil && holder.socket != nil { return holder }
            }
            usleep(20_000)
        }
        return holder
    }
}
