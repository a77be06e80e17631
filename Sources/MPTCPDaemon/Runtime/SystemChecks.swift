import FoundationEssentials
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy
#if canImport(Glibc)
import Glibc
#endif

/// What the system would refuse in a policy: every check the daemon would
/// otherwise meet only while starting (groups, directories, the socket path,
/// the metrics address). The one place these are decided: start-up, reload,
/// `--check` (and so `mptcpctl check`) all load the file through
/// `PolicyFile.load`, which hands this to the loader.
///
/// Directories are judged as the daemon, running as root, would find them:
/// usable when they exist as directories, or can be created under an existing
/// directory, on a file system mounted read-write. Permission bits are not
/// consulted (root passes them), so a check run by another user agrees.
struct SystemChecks: PolicyEnvironment {
    let namespace: NetworkNamespace

    func problems(_ policy: Policy) -> [PolicyDiagnostic] {
        var problems: [PolicyDiagnostic] = []
        func fail(_ key: String, _ message: String) { problems.append(PolicyDiagnostic(line: nil, key: key, message: message)) }
        let d = policy.daemon
        if let name = d.socketGroup, groupID(name) == nil { fail("daemon.socket_group", "no group \"\(name)\" on this system") }
        if let name = d.adminGroup, groupID(name) == nil { fail("daemon.admin_group", "no group \"\(name)\" on this system") }

        if let problem = Self.unnamedNamespaceProblem(d, namespace: namespace) { problems.append(problem) }
        let socket = d.socketPath(namespace: namespace.name)
        if let why = Self.directoryProblem(Directory.containing(socket)) {
            fail("daemon.socket", "\(socket): \(why)")
        } else if let why = Self.socketFileProblem(socket) {
            fail("daemon.socket", why)
        }
        if let why = Self.directoryProblem(d.stateDirectory) { fail("daemon.state_directory", why) }
        if let why = Self.existingDirectoryProblem(policy.hooks.directory) { fail("hooks.directory", why) }
        if let text = policy.metrics.listen, let listen = MetricsListen(text), let why = listenProblem(listen) {
            fail("metrics.listen", why)
        }
        return problems
    }

    /// A daemon in an unnamed namespace (`unshare -n`, a container's, nothing
    /// under /run/netns names it): its default socket and ownership record are
    /// the host daemon's (they are named after the namespace's name, and it has
    /// none), so it would rewrite the host daemon's record and run its `on_exit`
    /// against it. Such a daemon must be given paths of its own; names derived
    /// from the inode would not do, since the kernel reuses a dead namespace's
    /// inode and the next namespace would adopt its record.
    static func unnamedNamespaceProblem(_ d: DaemonSettings, namespace: NetworkNamespace) -> PolicyDiagnostic? {
        guard namespace.name == nil else { return nil }
        let identity = NamespaceIdentity.current()
        // One that cannot be told from the host's counts as unnamed: refusing
        // errs on the side of never sharing the host daemon's files.
        guard identity == .unnamed || identity == .unknown else { return nil }
        var missing: [String] = []
        if d.socketPath(namespace: nil) == defaultControlSocketPath(namespace: nil) { missing.append("socket") }
        if d.stateDirectory == DaemonSettings().stateDirectory { missing.append("state_directory") }
        guard !missing.isEmpty else { return nil }
        let key = missing.count == 1 ? "daemon." + missing[0] : "daemon"
        return PolicyDiagnostic(line: nil, key: key, message:
            (identity == .unnamed ? "this is an unnamed network namespace (none under /run/netns)"
                : "this network namespace cannot be told from the host's (/proc/1/ns/net is not readable)")
            + ": the default socket and state directory are the host daemon's; "
            + "set daemon.socket and daemon.state_directory to paths of its own, or name it (ip netns attach NAME PID) and use -n NAME")
    }

    /// Why the daemon could not make files in `path` (creating it when
    /// missing), or nil.
    static func directoryProblem(_ path: String) -> String? {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { return "\(path) exists and is not a directory" }
            return readOnly(path) ? "\(path) is on a read-only file system" : nil
        }
        switch errno {
        case ENOENT: break
        case ENOTDIR: return "\(path): a part of the path is not a directory"
        // Not ours to look into (a check run by a user): root will see.
        default: return nil
        }
        // Missing: the nearest existing ancestor must be a writable directory.
        var ancestor = Directory.containing(path)
        while !ancestor.isEmpty {
            if stat(ancestor, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFDIR else {
                    return "cannot create \(path): \(ancestor) is not a directory"
                }
                return readOnly(ancestor) ? "cannot create \(path): \(ancestor) is on a read-only file system" : nil
            }
            if errno != ENOENT { return nil }
            if ancestor == "/" { break }
            ancestor = Directory.containing(ancestor)
        }
        return nil
    }

    /// A directory that is optional (hooks): missing is fine, anything but a directory is not.
    static func existingDirectoryProblem(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return errno == ENOTDIR ? "\(path): a part of the path is not a directory" : nil
        }
        return info.st_mode & S_IFMT == S_IFDIR ? nil : "\(path) exists and is not a directory"
    }

    /// A file at the socket's path that the daemon would refuse to replace.
    static func socketFileProblem(_ path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT == S_IFSOCK ? nil : "\(path) exists and is not a socket: the daemon will not replace it"
    }

    private static func readOnly(_ path: String) -> Bool {
        var fs = statvfs()
        return statvfs(path, &fs) == 0 && fs.f_flag & UInt(ST_RDONLY) != 0
    }

    /// Whether the metrics address can be bound in the namespace: a test bind
    /// to port 0 (so a running daemon's port is no obstacle), closed at once.
    private func listenProblem(_ listen: MetricsListen) -> String? {
        guard let address = IPAddress(listen.host) else { return nil }
        let code: Int32
        do {
            code = try namespace.perform { () -> Int32 in Self.bindErrno(address) }
        } catch {
            return nil  // The namespace is reported on its own.
        }
        guard code != 0 else { return nil }
        if code == EADDRNOTAVAIL {
            return "\(listen.host) is not an address of \(namespace.name.map { "namespace " + $0 } ?? "this host"): the daemon could not listen on it"
        }
        return "cannot listen on \(listen.host): \(String(cString: strerror(code)))"
    }

    private static func bindErrno(_ address: IPAddress) -> Int32 {
        let family = address.isIPv4 ? AF_INET : AF_INET6
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let bytes = address.bytes
        let rc: Int32
        if address.isIPv4 {
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            withUnsafeMutableBytes(of: &sa.sin_addr) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
            rc = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        } else {
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &sa.sin6_addr) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
            rc = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
        return rc == 0 ? 0 : errno
    }
}

/// The id of group `name` (`getgrnam_r`), nil when there is none.
func groupID(_ name: String) -> UInt32? {
    var group = Glibc.group()
    var result: UnsafeMutablePointer<Glibc.group>?
    var buffer = [CChar](repeating: 0, count: 16384)
    let rc = getgrnam_r(name, &group, &buffer, buffer.count, &result)
    guard rc == 0, result != nil else { return nil }
    return group.gr_gid
}
