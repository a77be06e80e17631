import CNetlink
import Glibc

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
        guard let sock = nl_socket_alloc() else { throw .system("allocate netlink socket", errno: ENOMEM) }
        handle = sock
        protocolNumber = proto
        do {
            try libnlCall("open netlink socket") { nl_connect(sock, proto) }
        } catch {
            nl_socket_free(sock)
            throw error
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
        try libnlCall("resolve generic netlink family \(name)", code: .notFound,
                      hint: "is MPTCP enabled in this kernel (CONFIG_MPTCP, net.mptcp.enabled)?") {
            genl_ctrl_resolve(handle, name)
        }
    }

    /// `genl_ctrl_resolve_grp`: the id of a family's multicast group.
    func resolveGroup(family: String, group: String) throws(MPTCPError) -> Int32 {
        try libnlCall("resolve multicast group \(family)/\(group)", code: .notFound) {
            genl_ctrl_resolve_grp(handle, family, group)
        }
    }

    /// Sends one message built by `genlmsg_put` (generic netlink) or
    /// `nlmsg_alloc_simple` (other protocols) with `payload` appended; returns its sequence number.
    func send(type: Int32, flags: UInt16, genlCommand: UInt8?, payload: [UInt8], operation: String) throws(MPTCPError) -> UInt32 {
        guard let msg = genlCommand == nil ? nlmsg_alloc_simple(type, Int32(flags)) : nlmsg_alloc() else {
            throw .system(operation, errno: ENOMEM)
        }
        defer { nlmsg_free(msg) }
        if let cmd = genlCommand {
            guard genlmsg_put(msg, UInt32(NL_AUTO_PORT), UInt32(NL_AUTO_SEQ), type, 0, Int32(flags), cmd, MPTCPFamily.version) != nil else {
                throw .system(operation, errno: ENOMEM)
            }
        }
        if !payload.isEmpty {
            var copy = payload
            try libnlCall(operation) { copy.withUnsafeMutableBytes { nlmsg_append(msg, $0.baseAddress, $0.count, 4) } }
        }
        try libnlCall(operation) { nl_send_auto(handle, msg) }
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
                try systemCall(operation) { setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) }
                receiveTimeout = ms
            }
        }
        while true {
            var peer = sockaddr_nl()
            var peerLength = socklen_t(MemoryLayout<sockaddr_nl>.size)
            let received = valueOrErrno(retryOnInterrupt: wait && timeoutMilliseconds == nil) {
                datagramBuffer.withUnsafeMutableBytes { buffer in
                    withUnsafeMutablePointer(to: &peer) { p in
                        p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            recvfrom(fd, buffer.baseAddress, buffer.count, (wait ? 0 : Int32(MSG_DONTWAIT)) | Int32(MSG_TRUNC), $0, &peerLength)
                        }
                    }
                }
            }
            let n: Int
            switch received {
            case .success(let count): n = count
            case .failure(let errno):
                switch errno.rawValue {
                case EAGAIN, EWOULDBLOCK, EINTR: return nil
                case ENOBUFS: return .overrun
                default: throw .system(operation, errno: errno.rawValue)
                }
            }
            if peer.nl_pid != 0 { continue }
            guard n <= datagramBuffer.count else {
                throw .protocolViolation(operation, "a datagram of \(n) bytes exceeds the \(datagramBuffer.count)-byte buffer")
            }
            let datagram = Array(datagramBuffer[0..<n])
            return .messages(try decode(operation) { () throws(DecodeError) in try NetlinkMessage.parse(datagram) })
        }
    }

    /// The request/reply primitive (mdlayher's `Conn.Execute`): sends a request
    /// and collects its replies until the kernel's ack (or, for a dump,
    /// `NLMSG_DONE`). A kernel error becomes an `MPTCPError` with the extack text.
    func transact(type: Int32, flags: UInt16, genlCommand: UInt8?, payload: [UInt8], operation: String) throws(MPTCPError) -> [NetlinkMessage] {
        var replies: [NetlinkMessage] = []
        try transact(type: type, flags: flags, genlCommand: genlCommand, payload: payload, operation: operation) { replies.append($0) }
        return replies
    }

    /// `transact` handing each reply to `body` as its datagram arrives instead
    /// of collecting them: a dump of a large table (sock_diag on a busy host) is
    /// then never held whole, only one datagram (at most 32 KiB) at a time. An
    /// error thrown by `body` ends the read (the rest of the dump stays unread).
    func transact(type: Int32, flags: UInt16, genlCommand: UInt8?, payload: [UInt8], operation: String,
                  each body: (NetlinkMessage) throws(MPTCPError) -> Void) throws(MPTCPError) {
        let seq = try send(type: type, flags: flags, genlCommand: genlCommand, payload: payload, operation: operation)
        let isDump = flags & NL.fDump == NL.fDump
        while true {
            for m in try receiveReplies(operation, overrun: "the reply overran the socket buffer") where m.sequence == seq {
                switch m.type {
                case NL.error:
                    if let refusal = try acknowledgement(m, operation) { throw .kernel(operation, refusal) }
                    if !isDump { return }
                case NL.done:
                    let status = try decode(operation) { () throws(DecodeError) in try NetlinkStatus(doneMessage: m) }
                    if status.error < 0 { throw .kernel(operation, status) }
                    return
                case NL.noop, NL.overrun:
                    continue
                default:
                    try body(m)
                }
            }
        }
    }

    /// `transact` for many generic-netlink requests at once, packed into as few
    /// datagrams as `maxBatch` allows: the kernel handles the messages of a
    /// datagram in order, each with its own ack. Returns, per request and in
    /// order, nil for success or the kernel's refusal. Throws only when a
    /// datagram cannot be sent or its acks cannot be read (then the outcome of
    /// the requests is unknown).
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
                datagram += genericRequest(type: type, sequence: seq, command: genlCommand, payload: payloads[i])
            }
            try libnlCall(operation) { datagram.withUnsafeMutableBytes { nl_sendto(handle, $0.baseAddress, $0.count) } }
            var chunk = [NetlinkStatus?](repeating: nil, count: end - start)
            var waiting = end - start
            while waiting > 0 {
                for m in try receiveReplies(operation, overrun: "the acks overran the socket buffer") where m.type == NL.error {
                    guard let i = index.removeValue(forKey: m.sequence) else { continue }
                    chunk[i] = try acknowledgement(m, operation)
                    waiting -= 1
                }
            }
            results.append(contentsOf: chunk)
            start = end
        }
        return results
    }

    /// One read of replies; an overrun lost some, so the request's outcome is unknown.
    private func receiveReplies(_ operation: String, overrun: String) throws(MPTCPError) -> [NetlinkMessage] {
        guard case .messages(let batch) = try receive(operation: operation) else {
            var error = MPTCPError.system(operation, errno: ENOBUFS)
            error.detail = overrun
            throw error
        }
        return batch
    }

    /// An `NLMSG_ERROR` reply: nil for an ack, else the kernel's refusal.
    private func acknowledgement(_ m: NetlinkMessage, _ operation: String) throws(MPTCPError) -> NetlinkStatus? {
        let status = try decode(operation) { () throws(DecodeError) in try NetlinkStatus(errorMessage: m) }
        return status.error == 0 ? nil : status
    }
}

/// One generic-netlink request message with `NLM_F_REQUEST | NLM_F_ACK`, padded
/// to 4 bytes, as `genlmsg_put` lays it out (pure, so it is unit-tested).
func genericRequest(type: Int32, sequence: UInt32, command: UInt8, payload: [UInt8]) -> [UInt8] {
    let length = NL.headerLength + 4 + payload.count
    var message = le32(UInt32(length))
    message += le16(UInt16(truncatingIfNeeded: type))
    message += le16(NL.fRequest | NL.fAck)
    message += le32(sequence)
    message += le32(0)
    message += [command, MPTCPFamily.version, 0, 0]
    message += payload
    message += [UInt8](repeating: 0, count: padding(length))
    return message
}
