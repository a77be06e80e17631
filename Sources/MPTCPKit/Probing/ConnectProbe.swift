import CNetlink
import Glibc

/// A TCP connect probe for one path, for networks that drop ICMP: one
/// non-blocking plain-TCP connect (not MPTCP) from the path's source address,
/// bound to its interface (`SO_BINDTODEVICE`), to `target`:`port`.
///
/// Connected, or refused (a RST, `ECONNREFUSED`), is `.answered`: either proves
/// the path carries packets both ways. (An ICMP port unreachable from a router
/// also reads as refused, which proves the same up to that router.) Any other
/// error the kernel reports (`SO_ERROR`: EHOSTUNREACH, ENETUNREACH, ETIMEDOUT...)
/// is `.failed`. A SYN nobody answers stays pending: the caller's timeout
/// decides, then `close()`s.
///
/// One thread at a time uses a probe (it may be handed over, not shared;
/// `@unchecked Sendable` is only for that). It belongs to the namespace it was
/// opened in.
public final class ConnectProbe: @unchecked Sendable {
    /// How a connect probe ended.
    public enum Outcome: Hashable, Sendable {
        /// Connected or refused: the path carries packets both ways.
        case answered
        /// The kernel gave up on the connect, with why (classified: `isNetworkUnreachable`, `isTimedOut`...).
        case failed(MPTCPError)
    }

    public let source: IPAddress
    public let interface: String
    public let target: IPAddress
    public let port: UInt16
    private var fd: Int32
    /// The outcome once known (SO_ERROR is read once: the kernel clears it).
    private var settled: Outcome?

    /// Starts the connect in `namespace`. Throws for bad input (`invalidArgument`:
    /// a malformed interface name, an unspecified source, a target of the other
    /// family, port 0; `notFound`: an unknown interface) and for a socket that
    /// cannot be set up; a connect the kernel refuses at once (no route) is the
    /// outcome `.failed`, not thrown.
    public init(source: IPAddress, interface: String, target: IPAddress, port: UInt16,
                namespace: NetworkNamespace = .current) throws(MPTCPError) {
        let endpoint = AddressAndPort(address: target, port: port)
        let operation = "connect probe from \(source) on \(interface) to \(endpoint)"
        guard target.isIPv4 == source.isIPv4 else {
            throw .invalidArgument(operation, "the target is \(target.isIPv4 ? "IPv4" : "IPv6") but the source is not")
        }
        guard port != 0 else { throw .invalidArgument(operation, "port 0 cannot be connected to") }
        let (fd, immediate) = try namespace.perform { () throws(MPTCPError) -> (Int32, Outcome?) in
            let index = try BoundProbeSocket.validate(source: source, interface: interface, operation: operation)
            let fd = try BoundProbeSocket.open(source: source, interface: interface, interfaceIndex: index,
                                               type: Int32(SOCK_STREAM.rawValue), protocol: Int32(IPPROTO_TCP), operation: operation)
            // A reset on close: a probe leaves no TIME_WAIT behind, one per interval.
            var option = linger(l_onoff: 1, l_linger: 0)
            do throws(MPTCPError) {
                try BoundProbeSocket.step("setsockopt SO_LINGER", operation) {
                    setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
                }
            } catch {
                _ = Glibc.close(fd)
                throw error
            }
            var destination = SocketAddressStorage(endpoint)
            if BoundProbeSocket.isLinkLocal(target) { destination.setScope(index) }
            switch valueOrErrno({ destination.withSockaddr { connect(fd, $0, $1) } }) {
            case .success: return (fd, .answered)
            case .failure(let errno) where errno.rawValue == EINPROGRESS: return (fd, nil)
            case .failure(let errno): return (fd, Self.outcome(errno: errno.rawValue, operation: operation))
            }
        }
        self.fd = fd
        self.settled = immediate
        self.source = source
        self.interface = interface
        self.target = target
        self.port = port
    }

    deinit { close() }

    /// The descriptor to wait on (`ProbeWait`: writable once the connect ended); -1 once closed.
    public var fileDescriptor: Int32 { fd }

    /// nil while the connect is pending; then how it ended (the same answer on every later call).
    public func outcome() -> Outcome? {
        if let settled { return settled }
        guard fd >= 0 else { return nil }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard case .success(let ready) = valueOrErrno({ poll(&poller, 1, 0) }), ready == 1 else { return nil }
        var soError: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        let operation = "connect probe from \(source) on \(interface) to \(AddressAndPort(address: target, port: port))"
        if case .failure(let errno) = valueOrErrno({ getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length) }) {
            settled = .failed(.system(operation, errno: errno.rawValue))
        } else {
            settled = soError == 0 ? .answered : Self.outcome(errno: soError, operation: operation)
        }
        return settled
    }

    /// ECONNREFUSED is an answer (a RST came back); any other errno a failure.
    private static func outcome(errno: Int32, operation: String) -> Outcome {
        errno == ECONNREFUSED ? .answered : .failed(.system(operation, errno: errno))
    }

    /// Closes the socket (with a reset when it connected). Closing twice does nothing.
    public func close() {
        guard fd >= 0 else { return }
        _ = Glibc.close(fd)
        fd = -1
    }
}
