import NIOConcurrencyHelpers
import Glibc

/// An MPTCP listening socket (`socket(AF_INET|AF_INET6, SOCK_STREAM,
/// IPPROTO_MPTCP)`, `SO_REUSEADDR`, `bind`, `listen`), held open so that a
/// peer's MP_JOIN to `address`:`port` finds a listener.
///
/// The userspace path manager opens no listener for what it announces (the
/// in-kernel one does, for `signal` endpoints with a port): a join that finds
/// none is refused with a RST. This is what `pm_nl_ctl listen ADDR PORT` does
/// in the kernel's selftests. Joins never reach `accept`: the kernel attaches
/// them to their connection by token. A plain connection to the address is
/// queued like any other; `refuseQueuedConnections` closes those.
///
/// The socket belongs to the namespace it was opened in, for its whole life.
public final class MPTCPListener: @unchecked Sendable {
    /// `IPPROTO_MPTCP` (the Debian 12 headers predate it).
    static let ipprotoMPTCP: Int32 = 262

    /// The bound address (unspecified: every address of the family).
    public let address: IPAddress
    /// The bound port (the kernel's choice when 0 was asked for).
    public let port: UInt16
    public let namespace: NetworkNamespace
    /// Guarded by `lock`; -1 once closed.
    private var fd: Int32
    private let lock = NIOLock()

    /// Opens the listener in `namespace`. An IPv6 address gets an IPv6-only
    /// socket, so it never takes IPv4 joins meant for another listener.
    public init(address: IPAddress, port: UInt16, backlog: Int32 = 64,
                namespace: NetworkNamespace = .current) throws(MPTCPError) {
        let operation = "listen on \(AddressAndPort(address: address, port: port)) (MPTCP)"
        let (fd, bound) = try namespace.perform { () throws(MPTCPError) -> (Int32, UInt16) in
            try Self.open(address: address, port: port, backlog: backlog, operation: operation)
        }
        self.fd = fd
        self.address = address
        self.port = bound
        self.namespace = namespace
    }

    deinit { close() }

    /// Whether the socket is still open.
    public var isOpen: Bool {
        lock.withLock { fd >= 0 }
    }

    /// Closes the socket (joins already accepted stay with their connections).
    /// Closing twice does nothing.
    public func close() {
        lock.withLock {
            guard fd >= 0 else { return }
            _ = closeDescriptor(fd)
            fd = -1
        }
    }

    /// Accepts and closes, without waiting, every plain (non-join) connection
    /// queued on the listener: it exists for joins only, and a connection left
    /// in the queue would hang its client. Returns how many were closed.
    @discardableResult
    public func refuseQueuedConnections() -> Int {
        lock.withLock {
            guard fd >= 0 else { return 0 }
            var closed = 0
            while true {
                let child = accept(fd, nil, nil)
                guard child >= 0 else { break }
                // SO_LINGER 0: a reset, so the client learns at once.
                var option = linger(l_onoff: 1, l_linger: 0)
                _ = setsockopt(child, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
                _ = closeDescriptor(child)
                closed += 1
            }
            return closed
        }
    }

    /// socket, SO_REUSEADDR, [IPV6_V6ONLY], bind, listen (non-blocking, for
    /// `refuseQueuedConnections`); the descriptor and the bound port.
    private static func open(address: IPAddress, port: UInt16, backlog: Int32,
                             operation: String) throws(MPTCPError) -> (Int32, UInt16) {
        let family = address.isIPv4 ? AF_INET : AF_INET6
        let fd: Int32
        switch valueOrErrno({ socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                                     ipprotoMPTCP) }) {
        case .success(let opened): fd = opened
        case .failure(let errno):
            var error = MPTCPError.system(operation, errno: errno.rawValue)
            if [EPROTONOSUPPORT, EINVAL, ENOPROTOOPT].contains(errno.rawValue) {
                error.detail = "this kernel has no MPTCP sockets"
                error.hint = "check 'sysctl net.mptcp.enabled'"
            }
            throw error
        }
        do {
            return (fd, try bindAndListen(fd, address: address, port: port, family: family, backlog: backlog, operation: operation))
        } catch {
            _ = closeDescriptor(fd)
            throw error
        }
    }

    /// The steps after `socket`; a failure names its step, with a hint for the usual causes.
    private static func bindAndListen(_ fd: Int32, address: IPAddress, port: UInt16, family: Int32, backlog: Int32,
                                      operation: String) throws(MPTCPError) -> UInt16 {
        func step<I: FixedWidthInteger>(_ name: String, _ call: () -> I) throws(MPTCPError) {
            guard case .failure(let errno) = valueOrErrno(call) else { return }
            var error = MPTCPError.system(operation, errno: errno.rawValue)
            error.detail = name
            if errno.rawValue == EADDRINUSE { error.hint = "another socket (TCP or MPTCP) listens there already" }
            if errno.rawValue == EADDRNOTAVAIL { error.hint = "the address is not configured in this namespace" }
            throw error
        }
        var one: Int32 = 1
        try step("setsockopt SO_REUSEADDR") { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) }
        var storage = sockaddr_storage()
        let length: socklen_t
        switch address {
        case .v4(let bytes):
            guard setBytes(bytes, family: family, port: port, into: &storage) else { throw .system(operation, errno: EINVAL) }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        case .v6(let bytes):
            try step("setsockopt IPV6_V6ONLY") { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)) }
            guard setBytes(bytes, family: family, port: port, into: &storage) else { throw .system(operation, errno: EINVAL) }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
        try step("bind") { withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } } }
        try step("listen") { listen(fd, backlog) }
        var actual = sockaddr_storage()
        var actualLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        try step("getsockname") {
            withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &actualLength) } }
        }
        // sin_port and sin6_port sit at the same offset, in network order.
        return withUnsafeBytes(of: &actual) { UInt16($0[2]) << 8 | UInt16($0[3]) }
    }

    private static func setBytes(_ bytes: [UInt8], family: Int32, port: UInt16, into storage: inout sockaddr_storage) -> Bool {
        withUnsafeMutableBytes(of: &storage) { raw in
            // sa_family (host order), then the port (network order), then the address.
            let familyValue = sa_family_t(family)
            withUnsafeBytes(of: familyValue) { f in for i in 0..<f.count { raw[i] = f[i] } }
            raw[2] = UInt8(port >> 8)
            raw[3] = UInt8(port & 0xff)
            switch bytes.count {
            case 4:
                for i in 0..<4 { raw[4 + i] = bytes[i] }  // sin_addr
            case 16:
                for i in 0..<16 { raw[8 + i] = bytes[i] }  // sin6_addr, after sin6_flowinfo
            default:
                return false
            }
            return true
        }
    }
}

/// `close(2)`, named apart from `MPTCPListener.close()`.
private func closeDescriptor(_ fd: Int32) -> Int32 { close(fd) }
