import Glibc

/// What a real MPTCP connection to the peer showed: whether it connected,
/// whether MPTCP was negotiated (not fallen back to TCP), and its subflows as
/// sock_diag listed them when the wait ended.
public struct PeerProbeResult: Hashable, Sendable {
    public var peer: AddressAndPort
    /// The interface a link-local peer was reached on (`--peer ADDR%IFACE`); nil otherwise.
    public var interface: Int32?
    /// Why the connection could not be made; nil when it was.
    public var failure: MPTCPError?
    /// The initial subflow's local address and port.
    public var local: AddressAndPort?
    /// `TCP_IS_MPTCP` said 1: both ends speak MPTCP.
    public var negotiated: Bool
    /// The connection's subflows at the end of the wait (the initial one included).
    public var subflows: [Subflow]
    /// Seconds waited for subflows after connecting.
    public var waited: Double
    /// The peer closed the connection while `doctor` waited.
    public var closedByPeer: Bool
    /// Why the subflows could not be watched (sock_diag refused); nil when they were.
    public var watchError: MPTCPError?

    public init(peer: AddressAndPort, failure: MPTCPError? = nil, local: AddressAndPort? = nil, negotiated: Bool = false,
                subflows: [Subflow] = [], waited: Double = 0, closedByPeer: Bool = false) {
        self.peer = peer
        self.failure = failure
        self.local = local
        self.negotiated = negotiated
        self.subflows = subflows
        self.waited = waited
        self.closedByPeer = closedByPeer
    }
}

/// Opens one MPTCP connection to a peer (`socket(…, IPPROTO_MPTCP)`, a
/// non-blocking `connect` with a timeout), sends two bytes (CRLF: the connection
/// is fully established, and the path manager opens subflows, only once data
/// flowed; line-based servers ignore an empty line), and watches its subflows
/// through sock_diag until each source expected has an established one, or the timeout.
public enum PeerProbe {
    /// `TCP_IS_MPTCP` (linux/tcp.h, 5.16): 1 while the socket is MPTCP, 0 once it fell back to TCP.
    static let tcpIsMPTCP: Int32 = 43
    /// `POLLRDHUP` (0x2000): glibc declares it only with _GNU_SOURCE.
    static let pollReadHangUp: Int16 = 0x2000

    /// `interface`: the link a link-local peer is on (its zone), as the socket's scope id.
    public static func run(peer: AddressAndPort, interface: Int32? = nil, timeout: Double, expectedSources: [IPAddress],
                           namespace: NetworkNamespace) -> PeerProbeResult {
        var result = PeerProbeResult(peer: peer)
        result.interface = interface
        let fd: Int32
        do {
            fd = try namespace.perform { () throws(MPTCPError) -> Int32 in
                try connect(peer, scopeID: UInt32(clamping: interface ?? 0), timeout: timeout)
            }
        } catch {
            result.failure = error
            return result
        }
        defer { close(fd) }
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        result.negotiated = getsockopt(fd, Int32(IPPROTO_TCP), tcpIsMPTCP, &value, &length) == 0 && value == 1
        result.local = localAddress(fd)
        let probe: [UInt8] = [0x0d, 0x0a]
        _ = probe.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard let local = result.local else { return result }
        let expected = Set(expectedSources.filter { $0 != local.address })
        let start = Monotonic.now
        while true {
            let table: [Connection]
            do { table = try ConnectionTable.read(namespace: namespace) } catch {
                // sock_diag unreadable (module missing, refused): the peer did not close.
                result.watchError = error
                break
            }
            let connection = table.first {
                $0.localPort == local.port && $0.remotePort == peer.port && $0.localAddress == local.address
            }
            result.subflows = connection?.subflows ?? []
            result.waited = Monotonic.now - start
            if connection == nil || peerClosed(fd) {
                result.closedByPeer = true
                break
            }
            let established = Set(result.subflows.filter(\.carriesTraffic).map(\.localAddress))
            let settled = expected.isSubset(of: established) && !result.subflows.contains { $0.state.isHandshaking }
            if settled || result.waited >= timeout { break }
            usleep(200_000)
        }
        return result
    }

    /// A non-blocking MPTCP connect, waited for with poll; the socket, connected.
    private static func connect(_ peer: AddressAndPort, scopeID: UInt32, timeout: Double) throws(MPTCPError) -> Int32 {
        let operation = "connect to \(peer) (MPTCP)"
        let family = peer.address.isIPv4 ? AF_INET : AF_INET6
        let fd = try systemCall(operation) {
            socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                   MPTCPListener.ipprotoMPTCP)
        }
        var storage = SocketAddressStorage(peer, scopeID: scopeID)
        let rc = storage.withSockaddr { Glibc.connect(fd, $0, $1) }
        if rc != 0 && errno != EINPROGRESS {
            let code = errno
            close(fd)
            throw .system(operation, errno: code)
        }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&poller, 1, Int32(max(1, min(timeout * 1000, Double(Int32.max)))))
        var soError: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if ready == 1 { _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length) }
        guard ready == 1, soError == 0 else {
            close(fd)
            var error = MPTCPError.system(operation, errno: ready == 1 ? soError : ETIMEDOUT)
            if ready != 1 { error.detail = "no answer within \(timeout) s" }
            throw error
        }
        return fd
    }

    /// The peer closed (or reset) the connection: readable with nothing to read.
    private static func peerClosed(_ fd: Int32) -> Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLIN) | pollReadHangUp, revents: 0)
        guard poll(&poller, 1, 0) == 1 else { return false }
        return poller.revents & (pollReadHangUp | Int16(POLLHUP) | Int16(POLLERR)) != 0
    }

    private static func localAddress(_ fd: Int32) -> AddressAndPort? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { return nil }
        let v4 = storage.ss_family == sa_family_t(AF_INET)
        return withUnsafeBytes(of: &storage) { raw -> AddressAndPort? in
            let port = UInt16(raw[2]) << 8 | UInt16(raw[3])
            let bytes = v4 ? Array(raw[4..<8]) : Array(raw[8..<24])
            return IPAddress(bytes: bytes).map { AddressAndPort(address: $0.unmapped, port: port) }
        }
    }
}

/// A `sockaddr_in` / `sockaddr_in6` for an address and port (and, for IPv6, a scope id:
/// the interface a link-local address is on).
struct SocketAddressStorage {
    var storage = sockaddr_storage()
    let length: socklen_t

    init(_ endpoint: AddressAndPort, scopeID: UInt32 = 0) {
        let v4 = endpoint.address.isIPv4
        length = socklen_t(v4 ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
        let bytes = endpoint.address.bytes
        withUnsafeMutableBytes(of: &storage) { raw in
            let family = sa_family_t(v4 ? AF_INET : AF_INET6)
            withUnsafeBytes(of: family) { for i in 0..<$0.count { raw[i] = $0[i] } }
            raw[2] = UInt8(endpoint.port >> 8)
            raw[3] = UInt8(endpoint.port & 0xff)
            let offset = v4 ? 4 : 8  // sin_addr; sin6_addr after sin6_flowinfo
            for (i, b) in bytes.enumerated() { raw[offset + i] = b }
            if !v4 {  // sin6_scope_id, after the 16 address bytes, in host order
                withUnsafeBytes(of: scopeID) { for i in 0..<$0.count { raw[24 + i] = $0[i] } }
            }
        }
    }

    mutating func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        let length = self.length
        return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) } }
    }
}

/// Seconds on the monotonic clock.
enum Monotonic {
    static var now: Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}
