import Glibc

/// The address of a Unix socket at a filesystem path, filled in one place for
/// everyone who connects to one (the CLI to the daemon, the daemon checking
/// whether another one serves its socket, the namespace check of a socket's peer).
public struct UnixSocketAddress {
    private var address = sockaddr_un()

    /// The address of `path`; nil when the path does not fit in `sun_path`
    /// (107 bytes and the terminating NUL).
    public init?(path: String) {
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
    }

    /// `connect(2)` of the socket `fd` to this address: 0, or the errno it failed with.
    public func connect(_ fd: Int32) -> Int32 {
        var address = address
        // No retry on EINTR: the connection then goes on in the background.
        let result = valueOrErrno(retryOnInterrupt: false) {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        }
        switch result {
        case .success: return 0
        case .failure(let errno): return errno.rawValue
        }
    }
}
