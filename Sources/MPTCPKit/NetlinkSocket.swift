import CNetlink
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A libnl socket (`struct nl_sock`) with request/reply and receive helpers.
///
/// Not thread-safe: each owner serialises its use. `PathManager` keeps its
/// socket inside a lock (`NIOLockedValueBox`); `EventSubscription` is used by one reader at a time.
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

    /// Outcome of one read.
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

    /// Blocks for one datagram from the kernel and splits it into messages.
    func receive(operation: String) throws(MPTCPError) -> Received {
        while true {
            if let received = try receiveDatagram(wait: true, timeoutMilliseconds: nil, operation: operation) { return received }
        }
    }

    /// The `SO_RCVTIMEO` in force, in ms (0: none); nil until first set.
    private var receiveTimeout: Int32?
    /// `receiveDatagram`'s buffer: netlink datagrams are at most 32 KiB.
    private var datagramBuffer = [UInt8](repeating: 0, count: 65536)

    /// One datagram with a plain `recvfrom` (no poll first): waiting up to
    /// `timeoutMilliseconds` (nil: for ever) when `wait`, else only what is
    /// already queued. nil when nothing came (timeout, EINTR with a timeout, or
    /// an empty queue). Datagrams not sent by the kernel are dropped.
    func receiveDatagram(wait: Bool, timeoutMilliseconds: Int32?, operation: String) throws(MPTCPError) -> Received? {
        let fd = fileDescriptor
        if wait {
            let ms = max(0, timeoutMilliseconds ?? 0)
            if receiveTimeout != ms {
                var tv = timeval(tv_sec: Int(ms / 1000), tv_usec: Int(ms % 1000) * 1000)
                guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
                    throw MPTCPError.system(operation, errno: cnl_errno())
                }
                receiveTimeout = ms
            }
        }
        while true {
            var peer = sockaddr_nl()
            var peerLength = socklen_t(MemoryLayout<sockaddr_nl>.size)
            let n = datagramBuffer.withUnsafeMutableBytes { buffer in
                withUnsafeMutablePointer(to: &peer) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fd, buffer.baseAddress, buffer.count, (wait ? 0 : Int32(MSG_DONTWAIT)) | Int32(MSG_TRUNC), $0, &peerLength)
                    }
                }
            }
            if n < 0 {
                let code = cnl_errno()
                switch code {
                case EAGAIN, EWOULDBLOCK: return nil
                case EINTR: if wait && timeoutMilliseconds == nil { continue } else { return nil }
                case ENOBUFS: return .overrun
                default: throw MPTCPError.system(operation, errno: code)
                }
            }
            if peer.nl_pid != 0 { continue }
            guard n <= datagramBuffer.count else {
                throw MPTCPError(code: .protocolViolation, operation: operation,
                                 detail: "a datagram of \(n) bytes exceeds the \(datagramBuffer.count)-byte buffer")
            }
            do {
                return .messages(try NetlinkMessage.parse(Array(datagramBuffer[0..<n])))
            } catch {
                throw MPTCPError(code: .protocolViolation, operation: operation, detail: error.description)
            }
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

    /// Sends `payloads` as generic-netlink requests packed into as few datagrams as
    /// `maxBatch` allows: the kernel handles the messages of a datagram in order,
    /// each with its own ack. Returns, per request and in order, nil for success or
    /// the kernel's refusal. Throws only when a datagram cannot be sent or its acks
    /// cannot be read (then the outcome of the requests is unknown).
    func transactBatch(type: Int32, genlCommand: UInt8, payloads: [[UInt8]], maxBatch: Int = 64,
                       operation: String) throws(MPTCPError) -> [NetlinkStatus?] {
        var results: [NetlinkStatus?] = []
        results.reserveCapacity(payloads.count)
        var start = 0
        while start < payloads.count {
            let end = min(payloads.count, start + max(1, maxBatch))
            var datagram: [UInt8] = []
            var index: [UInt32: Int] = [:]
            for i in start..<end {
                let seq = nl_socket_use_seq(handle)
                index[seq] = i - start
                let length = NL.headerLength + 4 + payloads[i].count
                datagram.append(contentsOf: le32(UInt32(length)))
                datagram.append(contentsOf: le16(UInt16(truncatingIfNeeded: type)))
                datagram.append(contentsOf: le16(NL.fRequest | NL.fAck))
                datagram.append(contentsOf: le32(seq))
                datagram.append(contentsOf: le32(0))
                datagram.append(contentsOf: [genlCommand, MPTCPFamily.version, 0, 0])
                datagram.append(contentsOf: payloads[i])
                datagram.append(contentsOf: [UInt8](repeating: 0, count: padding(length)))
            }
            let sent = datagram.withUnsafeMutableBytes { nl_sendto(handle, $0.baseAddress, $0.count) }
            guard sent >= 0 else {
                throw MPTCPError(code: .system, operation: operation, errno: cnl_errno(), detail: libnlError(sent))
            }
            var chunk = [NetlinkStatus?](repeating: nil, count: end - start)
            var waiting = end - start
            while waiting > 0 {
                guard case .messages(let batch) = try receive(operation: operation) else {
                    throw MPTCPError(code: .system, operation: operation, errno: ENOBUFS,
                                     detail: "the acks overran the socket buffer")
                }
                for m in batch where m.type == NL.error {
                    guard let i = index.removeValue(forKey: m.sequence) else { continue }
                    let status = try decode(operation) { () throws(DecodeError) in try NetlinkStatus(errorMessage: m) }
                    chunk[i] = status.error == 0 ? nil : status
                    waiting -= 1
                }
            }
            results.append(contentsOf: chunk)
            start = end
        }
        return results
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
