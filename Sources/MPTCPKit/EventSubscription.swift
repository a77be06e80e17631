import CNetlink
import Glibc

/// What a read from the event socket yields.
public enum EventNotice: Hashable, Sendable {
    /// One decoded path-manager event.
    case event(Event)
    /// The receive buffer overran (ENOBUFS): the kernel dropped events. State
    /// must be re-read from the kernel; the subscription keeps working.
    case eventsLost
    /// A message that could not be decoded; the subscription keeps working.
    case malformed(String)
}

/// A subscription to the `mptcp_pm_events` multicast group on a socket of its
/// own (never the request socket), with a large receive buffer.
///
/// Not thread-safe: one reader at a time calls `next`; the daemon confines it to
/// one task.
public final class EventSubscription {
    private let socket: NetlinkSocket
    private let familyID: Int32
    /// The receive buffer the kernel granted, in bytes.
    public let receiveBufferSize: Int

    /// Default receive buffer: room for bursts of thousands of connections.
    public static let defaultReceiveBuffer = 16 << 20

    /// Joins the events group in `namespace` (needs CAP_NET_ADMIN there).
    /// The buffer is set with `SO_RCVBUFFORCE` when privileged, else `SO_RCVBUF`.
    public init(namespace: NetworkNamespace = .current, receiveBuffer: Int = EventSubscription.defaultReceiveBuffer) throws(MPTCPError) {
        let (sock, family, size) = try namespace.perform { () throws(MPTCPError) -> (NetlinkSocket, Int32, Int) in
            let sock = try NetlinkSocket(protocol: NL.protoGeneric)
            let family = try sock.resolveFamily(MPTCPFamily.name)
            let group = try sock.resolveGroup(family: MPTCPFamily.name, group: MPTCPFamily.eventGroup)
            nl_socket_disable_seq_check(sock.handle)
            try libnlCall("join the \(MPTCPFamily.eventGroup) multicast group") { nl_socket_add_membership(sock.handle, group) }
            return (sock, family, sock.setReceiveBuffer(receiveBuffer))
        }
        socket = sock
        familyID = family
        receiveBufferSize = size
    }

    /// Has the kernel drop events of these types before they are queued (a
    /// classic BPF socket filter on the genl command byte): fewer wake-ups for a
    /// reader that has no use for them. A filtered event never counts towards
    /// an overrun. Replaces any earlier filter; an empty set changes nothing.
    public func ignore(_ types: Set<EventType>) throws(MPTCPError) {
        let commands = types.map(\.rawValue).sorted()
        guard !commands.isEmpty else { return }
        guard commands.count < 256 else {  // every jump offset must fit a u8
            throw .invalidArgument("attach an event filter", "ignoring every event type leaves nothing to read")
        }
        // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
        var program: [(UInt16, UInt8, UInt8, UInt32)] = [(0x30, 0, 0, 16)]  // ldb [16]: genlmsghdr.cmd
        for (i, c) in commands.enumerated() {
            program.append((0x15, UInt8(commands.count - i), 0, UInt32(c)))  // jeq #c -> drop
        }
        program.append((0x06, 0, 0, 0xffff_ffff))  // accept
        program.append((0x06, 0, 0, 0))            // drop
        let filter = UnsafeMutableRawPointer.allocate(byteCount: program.count * 8, alignment: 8)
        defer { filter.deallocate() }
        for (i, (code, jt, jf, k)) in program.enumerated() {
            filter.storeBytes(of: code, toByteOffset: i * 8, as: UInt16.self)
            filter.storeBytes(of: jt, toByteOffset: i * 8 + 2, as: UInt8.self)
            filter.storeBytes(of: jf, toByteOffset: i * 8 + 3, as: UInt8.self)
            filter.storeBytes(of: k, toByteOffset: i * 8 + 4, as: UInt32.self)
        }
        // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
        let fprog = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 8)
        defer { fprog.deallocate() }
        fprog.initializeMemory(as: UInt8.self, repeating: 0, count: 16)
        fprog.storeBytes(of: UInt16(program.count), toByteOffset: 0, as: UInt16.self)
        fprog.storeBytes(of: filter, toByteOffset: 8, as: UnsafeMutableRawPointer.self)
        let soAttachFilter: Int32 = 26
        try systemCall("attach an event filter") { setsockopt(socket.fileDescriptor, SOL_SOCKET, soAttachFilter, fprog, 16) }
    }

    /// The socket's descriptor, to wait on with poll/epoll.
    public var fileDescriptor: Int32 { socket.fileDescriptor }

    /// Blocks until the kernel delivers something, then returns the notices in
    /// that datagram and in every datagram already queued behind it (up to 64):
    /// a burst is read with one wake-up and one read per datagram, with no poll.
    /// With `timeoutMilliseconds`, returns an empty array when nothing arrived
    /// in time. An overrun ends the batch with `.eventsLost`.
    ///
    /// With `drainAfterLoss`, an overrun is followed by reading and discarding
    /// everything queued, until the queue is empty: only a read that finds it
    /// empty lifts the kernel's congestion state, and until then every new event
    /// is dropped *without* another error. A reader that re-reads the state
    /// (sock_diag) after `.eventsLost` must do so after that point, or events of
    /// connections made meanwhile are lost unnoticed.
    public func next(timeoutMilliseconds: Int32? = nil, drainAfterLoss: Bool = false) throws(MPTCPError) -> [EventNotice] {
        var notices: [EventNotice] = []
        var wait = true
        for _ in 0..<64 {
            guard let received = try socket.receiveDatagram(wait: wait, timeoutMilliseconds: timeoutMilliseconds,
                                                            operation: "read MPTCP events") else { break }
            wait = false
            switch received {
            case .overrun:
                notices.append(.eventsLost)
                if drainAfterLoss {
                    while try socket.receiveDatagram(wait: false, timeoutMilliseconds: nil, operation: "read MPTCP events") != nil {}
                }
                return notices
            case .messages(let messages):
                notices.append(contentsOf: messages.compactMap(notice(for:)))
            }
        }
        return notices
    }

    private func notice(for m: NetlinkMessage) -> EventNotice? {
        guard Int32(m.type) == familyID else { return nil }
        guard m.payload.count >= 4 else { return .malformed("event shorter than a genl header") }
        do {
            return .event(try Event(command: m.payload[0], attributes: try parseAttributes(m.payload[4...])))
        } catch {
            return .malformed(error.description)
        }
    }
}
