import CNetlink
import Glibc

/// Which network namespace the calling thread is in, as a name a user knows:
/// the host's (the one of PID 1), one named under `/run/netns` (as `ip netns
/// exec NAME` enters), or another one.
///
/// A program started with `ip netns exec NAME` does not know NAME unless it
/// looks: this compares the inode of `/proc/thread-self/ns/net` with those of
/// `/proc/1/ns/net` (or kthreadd's, see `hostInode`) and `/run/netns/*` (the
/// same test `ip netns identify` makes).
public enum NamespaceIdentity: Hashable, Sendable, CustomStringConvertible {
    /// The namespace of PID 1: the host's (or, in a container, the container's own).
    case host
    /// The namespace bound at `/run/netns/NAME`.
    case named(String)
    /// Neither: an unnamed namespace (`unshare -n`, a container's seen from outside).
    case unnamed
    /// It could not be told (PID 1's namespace is not readable without privileges).
    case unknown

    /// The calling thread's namespace.
    public static func current(netnsDirectory: String = "/run/netns") -> NamespaceIdentity {
        guard let mine = inode("/proc/thread-self/ns/net") ?? inode("/proc/self/ns/net") else { return .unknown }
        let host = hostInode()
        if host == mine { return .host }
        for name in entries(of: netnsDirectory).sorted() where inode(netnsDirectory + "/" + name) == mine {
            return .named(name)
        }
        return host == nil ? .unknown : .unnamed
    }

    /// Whether the process serving the Unix stream socket at `path` runs in the
    /// caller's network namespace (its pid from `SO_PEERCRED`, then the inodes
    /// compared); nil when that cannot be told: nobody serves the socket, or the
    /// peer's namespace is not readable.
    public static func socketPeerSharesNamespace(_ path: String) -> Bool? {
        guard let mine = inode("/proc/thread-self/ns/net") ?? inode("/proc/self/ns/net") else { return nil }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let address = UnixSocketAddress(path: path), address.connect(fd) == 0 else { return nil }
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (hidden behind _GNU_SOURCE in Glibc).
        var peer: (pid: Int32, uid: UInt32, gid: UInt32) = (0, 0, 0)
        var length = socklen_t(12)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0, length == 12, peer.pid > 0,
              let theirs = inode("/proc/\(peer.pid)/ns/net") else { return nil }
        return theirs == mine
    }

    public var description: String {
        switch self {
        case .host: return "the host's network namespace"
        case .named(let name): return "network namespace \(name)"
        case .unnamed: return "an unnamed network namespace"
        case .unknown: return "an unidentified network namespace"
        }
    }

    /// The host's namespace: PID 1's. When PID 1's is hidden (a PID 1 that is
    /// not dumpable denies even root), kthreadd's (PID 2 in the initial PID
    /// namespace): kernel threads live in the initial network namespace, which
    /// is PID 1's there.
    private static func hostInode() -> Inode? {
        if let pid1 = inode("/proc/1/ns/net") { return pid1 }
        guard let fd = fopen("/proc/2/comm", "r") else { return nil }
        defer { fclose(fd) }
        var buffer = [CChar](repeating: 0, count: 32)
        guard fgets(&buffer, Int32(buffer.count), fd) != nil,
              String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) == "kthreadd\n" else { return nil }
        return inode("/proc/2/ns/net")
    }

    /// Device and inode of a namespace file; nil when it cannot be read.
    private struct Inode: Hashable { var device: UInt64; var inode: UInt64 }

    private static func inode(_ path: String) -> Inode? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Inode(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    private static func entries(of directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
