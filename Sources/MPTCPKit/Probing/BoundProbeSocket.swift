import CNetlink
import Glibc

/// Opens the sockets of path probes: bound to the path's interface
/// (`SO_BINDTODEVICE`, so the kernel routes them out of that interface whatever
/// the main table says) and to the path's source address, non-blocking.
/// Every step goes through `systemCall`'s errno funnel; a failure names its
/// step, with the usual cause as a hint.
enum BoundProbeSocket {
    /// `IFNAMSIZ`: an interface name's bytes with the terminating NUL.
    static let interfaceNameLimit = 16

    /// The input checks of every probe; the interface's index (for IPv6
    /// link-local addresses, which need it as their scope).
    static func validate(source: IPAddress, interface: String, operation: String) throws(MPTCPError) -> UInt32 {
        guard !interface.isEmpty, interface.utf8.count < interfaceNameLimit, !interface.contains("/") else {
            throw .invalidArgument(operation, "'\(interface)' is not an interface name")
        }
        guard !source.isUnspecified else {
            throw .invalidArgument(operation, "the source address \(source) is unspecified; a probe needs the path's own address")
        }
        let index = if_nametoindex(interface)
        guard index != 0 else {
            throw .notFound(operation, "no interface named '\(interface)'", errno: ENODEV, hint: "see 'ip link show'")
        }
        return index
    }

    /// socket, SO_BINDTODEVICE, bind to `source`; the descriptor (closed again on failure).
    static func open(source: IPAddress, interface: String, interfaceIndex: UInt32, type: Int32, protocol proto: Int32,
                     operation: String) throws(MPTCPError) -> Int32 {
        let family = source.isIPv4 ? AF_INET : AF_INET6
        let fd: Int32
        switch valueOrErrno({ socket(family, type | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), proto) }) {
        case .success(let opened): fd = opened
        case .failure(let errno):
            var error = MPTCPError.system(operation, errno: errno.rawValue)
            if errno.rawValue == EPERM || errno.rawValue == EACCES { error.hint = "raw ICMP sockets need CAP_NET_RAW (run as root)" }
            throw error
        }
        do throws(MPTCPError) {
            try step("setsockopt SO_BINDTODEVICE \(interface)", operation) {
                Array(interface.utf8CString).withUnsafeBytes { name in
                    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name.baseAddress, socklen_t(name.count))
                }
            }
            var address = SocketAddressStorage(AddressAndPort(address: source))
            if source.isIPv6LinkLocal { address.setScope(interfaceIndex) }
            try step("bind to \(source)", operation) { address.withSockaddr { bind(fd, $0, $1) } }
            return fd
        } catch {
            _ = close(fd)
            throw error
        }
    }

    /// One setup step: its errno becomes an error naming the step, with a hint for the usual causes.
    static func step<I: FixedWidthInteger>(_ name: String, _ operation: String, _ call: () -> I) throws(MPTCPError) {
        guard case .failure(let errno) = valueOrErrno(call) else { return }
        var error = MPTCPError.system(operation, errno: errno.rawValue)
        error.detail = name
        switch errno.rawValue {
        case ENODEV: error.code = .notFound; error.hint = "the interface is gone"
        case EADDRNOTAVAIL: error.hint = "the source address is not configured in this namespace"
        case EINVAL: error.hint = error.hint ?? "the source address does not belong to the interface's family or scope"
        default: break
        }
        throw error
    }
}

extension SocketAddressStorage {
    /// Sets `sin6_scope_id` (after family, port, flowinfo and the address: offset 24, host order).
    mutating func setScope(_ index: UInt32) {
        withUnsafeMutableBytes(of: &storage) { raw in
            withUnsafeBytes(of: index) { for i in 0..<4 { raw[24 + i] = $0[i] } }
        }
    }
}
