import CNetlink
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A libnl socket (`struct nl_sock`) with request/reply and receive helpers.
///
/// Not thread-safe: each owner serialises its use. `PathManager` keeps its
/// socket inside a `Mutex`; `EventSubscription` is used by one reader at a time.
/// The socket belongs to the network namespace of the thread that created it.
final class NetlinkSocket {
    let handle: OpaquePointer
    let protocolNumber: Int32

    /// `nl_socket_alloc` + `nl_connect`, with extended acks enabled
    /// (`NETLINK_EXT_ACK`, `NETLINK_CAP_ACK`; libnl 3.7 has no API for them).
    init(protocol proto: Int32) throws(MPTCPError) {
        guard let sock = nl_socket_alloc() else {
            throw MPTCPError(code: .system, operation: "allocate netlink socket", errno: ENOMEM)
        }
        handle = sock
        protocolNumber = proto
        let rc = nl_connect(sock, proto)
        if rc < 0 {
            let code = cnl_errno()
            nl_socket_free(sock)
            throw MPTCPError.system("open netlink socket", errno: code == 0 ? EINVAL : code)
        }
        var one: Int32 = 1
        let fd = nl_socket_get_fd(sock)
        _ = setsockopt(fd, NL.solNetlink, NL.optExtAck, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, NL.solNetlink, NL.optCapAck, &one, socklen_t(MemoryLayout<Int32>.size))
        // One recvmsg per datagram into a 64 KiB buffer, instead of a MSG_PEEK for
        // its size first: the kernel caps netlink datagrams (dump parts included)
        // at 32 KiB, and a truncated one is an error (NLE_MSG_TRUNC), never silent.
        nl_socket_disable_msg_peek(sock)
        _ = nl_socket_set_msg_buf_size(sock, 65536)
    }

    deinit { nl_socket_free(handle) }

    var fileDescriptor: Int32 { nl_socket_get_fd(handle) }

    /// `genl_ctrl_resolve`: the numeric id of a generic-netlink family.
    func resolveFamily(_ name: String) throws(MPTCPError) -> Int32 {
        let id = genl_ctrl_resolve(handle, name)
        guard id >= 0 else {
            throw MPTCPError(code: .notFound, operation: "resolve generic netlink family \(name)",
                             detail: libnlError(id),
                             hint: "is MPTCP enabled in this kernel (CONFIG_MPTCP, net.mptcp.enabled)?")
        }
        return id
    }

    /// `genl_ctrl_resolve_grp`: the id of a family's multicast group.
    func resolveGroup(family: String, group: String) throws(MPTCPError) -> Int32 {
        let id = genl_ctrl_resolve_grp(handle, family, group)
        guard id >= 0 else {
            throw MPTCPError(code: .notFound, operation: "resolve multicast group \(family)/\(group)",
                             detail: libnlError(id))
        }
        return id
    }

    /// Sends one message built by `genlmsg_put` (generic netlink) or
    /// `nlmsg_alloc_simple` (other protocols) with `payload` appended; returns its sequence number.
    func send(type: Int32, flags: UInt16, genlCommand: UInt8?, payload: [UInt8], operation: String) throws(MPTCPError) -> UInt32 {
        guard let msg = genlCommand == nil ? nlmsg_alloc_simple(type, Int32(flags)) : nlmsg_alloc() else {
            throw MPTCPError(code: .system, operation: operation, errno: ENOMEM)
        }
        defer { nlmsg_free(msg) }
        if let cmd = genlCommand {
            guard genlmsg_put(msg, UInt32(NL_AUTO_PORT), UInt32(NL_AUTO_SEQ), type, 0, Int32(flags), cmd, MPTCPFamily.version) != nil else {
                throw MPTCPError(code: .system, operation: operation, errno: ENOMEM)
            }
        }
        if !payload.isEmpty {
            var copy = payload
            let rc = copy.withUnsafeMutableBytes { nlmsg_append(msg, $0.baseAddress, $0.count, 4) }
            guard rc >= 0 else {
                throw MPTCPError(code: .system, operation: operation, errno: ENOMEM, detail: libnlError(rc))
            }
        }
        let sent = nl_send_auto(handle, msg)
        guard sent >= 0 else {
            throw MPTCPError(code: .system, operation: operation, errno: cnl_errno(), detail: libnlError(sent))
        }
        return cnl_msg_seq(msg)
    }

    /// Outcome of one `nl_recv`.
    enum Received {
        case messages([NetlinkMessage])
        /// The receive buffer overran (ENOBUFS): messages were dropped.
        case overrun
    }

    /// Asks for a `bytes` receive buffer: `SO_RCVBUFFORCE` when privileged (past
    /// `rmem_max`), else `SO_RCVBUF`. Returns what the kernel granted.
    @discardableResult
    func setReceiveBuffer(_ bytes: Int) -> Int {
        var want = Int32(clamping: bytes)
        let fd = fileDescriptor
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, socklen_t(MemoryLayout<Int32>.size))
        }
        var got: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len)
        return Int(got)
    }

    /// Waits up to `timeoutMilliseconds` for a datagram; false on timeout or EINTR.
    func waitReadable(timeoutMilliseconds: Int32, operation: String) throws(MPTCPError) -> Bool {
        var pfd = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
        let rc = poll(&pfd, 1, timeoutMilliseconds)
        if rc > 0 { return true }
        if rc == 0 { return false }
        let code = cnl_errno()
        if code == EINTR { return false }
        throw MPTCPError.system(operation, errno: code)
    }

    /// Blocks in `nl_recv` for one datagram and splits it into messages.
    func receive(operation: String) throws(MPTCPError) -> Received {
        var peer = sockaddr_nl()
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        while true {
            let n = nl_recv(handle, &peer, &buffer, nil)
            let code = cnl_errno()
            if n > 0, let buffer {
                let bytes = Array(UnsafeBufferPointer(start: buffer, count: Int(n)))
                free(buffer)
                do {
                    return .messages(try NetlinkMessage.parse(bytes))
                } catch {
                    throw MPTCPError(code: .protocolViolation, operation: operation, detail: error.description)
                }
            }
            if let buffer { free(buffer) }
            buffer = nil
            if n == 0 { continue }  // EAGAIN or an empty datagram
            if -n == NLE_NOMEM && code == ENOBUFS { return .overrun }
            if -n == NLE_INTR || code == EINTR { continue }
            throw MPTCPError(code: .system, operation: operation, errno: code == 0 ? EIO : code, detail: libnlError(n))
        }
    }

    /// Sends a request and collects its replies until the kernel's ack (or, for a
    /// dump, `NLMSG_DONE`). A kernel error becomes an `MPTCPError` with the extack text.
    func transact(type: Int32, flags: UInt16, genlCommand: UInt8?, payload: [UInt8], operation: String) throws(MPTCPError) -> [NetlinkMessage] {
        let seq = try send(type: type, flags: flags, genlCommand: genlCommand, payload: payload, operation: operation)
        let isDump = flags & NL.fDump == NL.fDump
        var replies: [NetlinkMessage] = []
        while true {
            guard case .messages(let batch) = try receive(operation: operation) else {
                throw MPTCPError(code: .system, operation: operation, errno: ENOBUFS,
                                 detail: "the reply overran the socket buffer")
            }
            for m in batch where m.sequence == seq {
                switch m.type {
                case NL.error:
                    let status = try decode(operation) { () throws(DecodeError) in try NetlinkStatus(errorMessage: m) }
                    if status.error != 0 { throw MPTCPError.kernel(operation, status) }
                    if !isDump { return replies }
                case NL.done:
                    let status = try decode(operation) { () throws(DecodeError) in try NetlinkStatus(doneMessage: m) }
                    if status.error < 0 { throw MPTCPError.kernel(operation, status) }
                    return replies
                case NL.noop, NL.overrun:
                    continue
                default:
                    replies.append(m)
                }
            }
        }
    }

    private func decode<T>(_ operation: String, _ body: () throws(DecodeError) -> T) throws(MPTCPError) -> T {
        do { return try body() } catch {
            throw MPTCPError(code: .protocolViolation, operation: operation, detail: error.description)
        }
    }
}

/// libnl's text for a negative `NLE_*` code.
func libnlError(_ code: Int32) -> String {
    guard let text = nl_geterror(code) else { return "libnl error \(code)" }
    return String(cString: text)
}
