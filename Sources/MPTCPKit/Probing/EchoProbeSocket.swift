import CNetlink
import Glibc

/// An ICMP echo prober for one path: a raw ICMP (IPv4) or ICMPv6 socket bound to
/// the path's interface (`SO_BINDTODEVICE`) and source address, non-blocking, so
/// its echo requests leave by that interface whatever the main routing table
/// says, and only what arrives on it for that address is read.
///
/// The kernel-side filter (`ICMP_FILTER` / `ICMP6_FILTER`) lets only echo
/// replies, destination unreachable and time exceeded through. Every raw ICMP
/// socket sees every such message for its address, also those meant for other
/// probers and for `ping`: an answer counts only when it carries this socket's
/// identifier, a sequence sent and not yet answered, and comes from that
/// probe's target (an echo reply) or quotes a request to it (an error, from any
/// router on the way). Everything else is dropped.
///
/// One thread at a time uses a socket (it keeps the probes in flight unlocked):
/// it may be handed to another thread, not shared. `@unchecked Sendable` is only
/// for that hand-over. The socket belongs to the namespace it was opened in.
public final class EchoProbeSocket: @unchecked Sendable {
    public let source: IPAddress
    public let interface: String
    /// The echo identifier of every request this socket sends.
    public let identifier: UInt16
    private var fd: Int32
    /// The interface's index in the socket's namespace (the scope of link-local targets).
    private let interfaceIndex: UInt32
    /// Probes in flight, and which answer is whose.
    private var ledger: EchoProbeLedger

    /// Opens the socket in `namespace`. Throws `invalidArgument` for a malformed
    /// interface name or an unspecified source, `notFound` for an unknown
    /// interface, a system error (EADDRNOTAVAIL: the address is not configured;
    /// EPERM: no CAP_NET_RAW) for the rest.
    public init(source: IPAddress, interface: String, identifier: UInt16,
                namespace: NetworkNamespace = .current) throws(MPTCPError) {
        let operation = "open echo probe from \(source) on \(interface)"
        (fd, interfaceIndex) = try namespace.perform { () throws(MPTCPError) -> (Int32, UInt32) in
            let index = try BoundProbeSocket.validate(source: source, interface: interface, operation: operation)
            let ipv4 = source.isIPv4
            let fd = try BoundProbeSocket.open(source: source, interface: interface, interfaceIndex: index, type: Int32(SOCK_RAW.rawValue),
                                               protocol: ipv4 ? Int32(IPPROTO_ICMP) : Int32(IPPROTO_ICMPV6), operation: operation)
            do throws(MPTCPError) {
                try BoundProbeSocket.step(ipv4 ? "setsockopt ICMP_FILTER" : "setsockopt ICMP6_FILTER", operation) {
                    ipv4 ? cnl_set_icmp_filter(fd, Self.ipv4Passed) : Self.ipv6Passed.withUnsafeBufferPointer {
                        cnl_set_icmp6_filter(fd, $0.baseAddress, Int32($0.count))
                    }
                }
            } catch {
                _ = Glibc.close(fd)
                throw error
            }
            return (fd, index)
        }
        self.source = source
        self.interface = interface
        self.identifier = identifier
        ledger = EchoProbeLedger(identifier: identifier)
    }

    deinit { close() }

    /// The ICMP types an IPv4 socket receives, as `ICMP_FILTER`'s bit set.
    private static let ipv4Passed: UInt32 = [ICMPEchoMessage.ICMPType.echoReply, ICMPEchoMessage.ICMPType.destinationUnreachable,
                                             ICMPEchoMessage.ICMPType.timeExceeded].reduce(0) { $0 | 1 << UInt32($1) }
    /// The ICMPv6 types an IPv6 socket receives.
    private static let ipv6Passed: [UInt8] = [ICMPEchoMessage.ICMPv6Type.echoReply, ICMPEchoMessage.ICMPv6Type.destinationUnreachable,
                                              ICMPEchoMessage.ICMPv6Type.timeExceeded]

    /// The descriptor to wait on (`ProbeWait`): readable when answers arrived; -1 once closed.
    public var fileDescriptor: Int32 { fd }

    /// Sends one echo request to `target`. A sequence still in flight is
    /// replaced (its answer then counts for the new one). Throws `invalidArgument`
    /// for a target of the other family; a system error otherwise, classified:
    /// `isNetworkUnreachable` (no route from this interface), `isAddressNotAvailable`
    /// (the source address went away), `isPermissionDenied` (a local firewall dropped it).
    public func send(to target: IPAddress, sequence: UInt16) throws(MPTCPError) {
        let operation = "send echo probe from \(source) on \(interface) to \(target)"
        guard target.isIPv4 == source.isIPv4 else {
            throw .invalidArgument(operation, "the target is \(target.isIPv4 ? "IPv4" : "IPv6") but the probe's source is not")
        }
        guard fd >= 0 else { throw .invalidArgument(operation, "the probe socket is closed") }
        var destination = SocketAddressStorage(AddressAndPort(address: target))
        if target.isIPv6LinkLocal { destination.setScope(interfaceIndex) }
        let packet = ICMPEchoMessage.request(identifier: identifier, sequence: sequence, ipv4: target.isIPv4)
        let fd = self.fd
        let sent = valueOrErrno {
            packet.withUnsafeBytes { bytes in
                destination.withSockaddr { sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0, $1) }
            }
        }
        if case .failure(let errno) = sent {
            var error = MPTCPError.system(operation, errno: errno.rawValue)
            // The socket exists, so the capability was there: EPERM here is netfilter's verdict.
            if errno.rawValue == EPERM { error.hint = "a local firewall rule (nftables output) dropped it" }
            throw error
        }
        ledger.sent(sequence: sequence, to: target, at: .now)
    }

    /// Reads every datagram waiting, without blocking; the answers to this
    /// socket's probes among them (each probe answered once), in arrival order.
    public func receive() throws(MPTCPError) -> [ProbeReply] {
        let operation = "receive echo probe answers on \(interface)"
        guard fd >= 0 else { throw .invalidArgument(operation, "the probe socket is closed") }
        var replies: [ProbeReply] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            var from = sockaddr_storage()
            var fromLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = self.fd
            let result = valueOrErrno {
                buffer.withUnsafeMutableBytes { bytes in
                    withUnsafeMutablePointer(to: &from) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            recvfrom(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0, &fromLength)
                        }
                    }
                }
            }
            switch result {
            case .success(let count):
                guard let sender = Self.address(of: from) else { continue }
                let datagram = Array(buffer[0..<count])
                let received = source.isIPv4 ? ICMPEchoMessage.parseIPv4(datagram) : ICMPEchoMessage.parseIPv6(datagram)
                if let reply = ledger.answer(received, from: sender, at: .now) {
                    replies.append(reply)
                }
            case .failure(let errno) where errno.rawValue == EAGAIN || errno.rawValue == EWOULDBLOCK:
                return replies
            case .failure(let errno):
                throw .system(operation, errno: errno.rawValue)
            }
        }
    }

    /// The address of a `sockaddr_in` / `sockaddr_in6` (IPv4-mapped ones unmapped).
    private static func address(of storage: sockaddr_storage) -> IPAddress? {
        var storage = storage
        let family = Int32(storage.ss_family)
        return withUnsafeBytes(of: &storage) { raw -> IPAddress? in
            switch family {
            case AF_INET: return IPAddress(bytes: Array(raw[4..<8]))
            case AF_INET6: return IPAddress(bytes: Array(raw[8..<24]))?.unmapped
            default: return nil
            }
        }
    }

    /// Closes the socket; probes in flight are forgotten. Closing twice does nothing.
    public func close() {
        guard fd >= 0 else { return }
        _ = Glibc.close(fd)
        fd = -1
        ledger.forgetAll()
    }
}
