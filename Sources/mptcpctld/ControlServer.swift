import Foundation
import Logging
import MPTCPAPI
import MPTCPKit
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The control socket: a Unix stream socket speaking JSON-RPC 2.0, one object
/// per line (`mptcpctld(8)`, API). Mode 0660, owned by root and
/// `[daemon] socket_group`. Limits: requests of at most 64 KiB (longer: an
/// error, then the connection is closed), 64 clients at once (the 65th gets an
/// error and is closed), connections idle for `idleTimeout` are closed.
struct ControlServer: Service, CustomStringConvertible {
    var description: String { "control socket \(path)" }
    static let maxClients = 64
    static let idleTimeout = TimeAmount.seconds(300)
    /// Events queued for a subscriber that is not reading, at most; beyond, they are counted as missed.
    static let subscriberQueue = 1024

    let path: String
    let socketGroup: UInt32?
    let api: ControlAPI
    let logger: Logger

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // One worker: requests touch the kernel (blocking netlink) and run in order.
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        // The worker enters the daemon's namespace once, so requests read its
        // sysctls directly instead of through a thread of their own each time.
        // So does the event loop's thread, which answers the cheap methods itself.
        let namespace = api.namespace
        do {
            try await pool.runIfActive { try namespace.enterOnThisThread() }
            try await group.next().submit { try namespace.enterOnThisThread() }.get()
        } catch {
            try? await pool.shutdownGracefully()
            try? await group.shutdownGracefully()
            throw error
        }
        do {
            try await serve(group: group, pool: pool)
        } catch {
            try? await pool.shutdownGracefully()
            try? await group.shutdownGracefully()
            throw error
        }
        try? await pool.shutdownGracefully()
        try? await group.shutdownGracefully()
    }

    private func serve(group: MultiThreadedEventLoopGroup, pool: NIOThreadPool) async throws {
        try Self.prepare(path)
        let clients = ClientCount()
        let api = self.api
        let logger = self.logger
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 128)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(allTimeout: Self.idleTimeout),
                        ByteToMessageHandler(LineDecoder(limit: controlRequestLimit)),
                        ControlConnectionHandler(api: api, pool: pool, clients: clients, logger: logger),
                    ])
                }
            }
            .bind(unixDomainSocketPath: path)
            .get()
        guard chmod(path, 0o660) == 0, chown(path, 0, socketGroup ?? 0) == 0 else {
            let reason = String(cString: strerror(errno))
            try? await channel.close()
            unlink(path)
            throw ControlSocketError("cannot set the owner and mode of \(path): \(reason)")
        }
        logger.info("serving the control API", metadata: ["socket": "\(path)"])
        try? await gracefulShutdown()
        try? await channel.close()
        unlink(path)
    }

    /// Creates the socket's directory and removes a socket file nobody serves
    /// (left by a killed daemon); refuses when another daemon answers on it.
    static func prepare(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o755])
            } catch {
                throw ControlSocketError("cannot create \(directory): \(error.localizedDescription)")
            }
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw ControlSocketError("\(path) exists and is not a socket: not replacing it")
        }
        if answers(path) {
            throw ControlSocketError("another daemon serves \(path): set [daemon] socket, or stop that one")
        }
        unlink(path)
    }

    /// Whether something accepts connections on the Unix socket `path`.
    private static func answers(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard let address = UnixSocketAddress(path: path) else { return false }
        return address.connect(fd) == 0
    }
}

struct ControlSocketError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The number of connected clients, shared by every connection's handler.
final class ClientCount: Sendable {
    private let count = Synchronization.Atomic<Int>(0)

    /// Counts a client in; false (and not counted) when `ControlServer.maxClients` are connected.
    func admit() -> Bool {
        while true {
            let n = count.load(ordering: .relaxed)
            guard n < ControlServer.maxClients else { return false }
            if count.compareExchange(expected: n, desired: n + 1, ordering: .relaxed).exchanged { return true }
        }
    }

    func leave() { count.subtract(1, ordering: .relaxed) }
}

/// `struct ucred`, which glibc declares only with _GNU_SOURCE (hidden from
/// Swift's Glibc module): same layout, read with `SO_PEERCRED` (17 on Linux).
struct PeerCredentials: Sendable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32

    static let option: Int32 = 17
}

/// Splits the byte stream into lines (LF, an optional CR before it dropped).
struct LineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let limit: Int

    struct TooLong: Error {}

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: 0x0A) else {
            if buffer.readableBytes > limit { throw TooLong() }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        if length > limit { throw TooLong() }
        guard var line = buffer.readSlice(length: length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 1)
        if line.readableBytesView.last == 0x0D { line = line.getSlice(at: line.readerIndex, length: line.readableBytes - 1) ?? line }
        context.fireChannelRead(Self.wrapInboundOut(line))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A last request without its newline is still a request.
        while try decode(context: context, buffer: &buffer) == .continue {}
        if seenEOF, buffer.readableBytes > 0, let line = buffer.readSlice(length: buffer.readableBytes) {
            context.fireChannelRead(Self.wrapInboundOut(line))
        }
        return .needMoreData
    }
}

/// One client connection: admits it, learns who it is, and answers its
/// requests in order, one at a time. It reads on only once the previous request
/// is answered and while fewer than 64 KiB of answers wait to be sent, so a
/// client that never reads its answers cannot make the daemon buffer without
/// bound: it is simply not read from any more.
final class ControlConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let api: ControlAPI
    private let pool: NIOThreadPool
    private let clients: ClientCount
    private let logger: Logger
    private var admitted = false
    private var peer: ControlPeer?
    private var lines: [ByteBuffer] = []
    private var busy = false
    private var closing = false
    /// Set by `subscribe`: this connection also streams events.
    private var subscriber: EventHub.Subscriber?

    init(api: ControlAPI, pool: NIOThreadPool, clients: ClientCount, logger: Logger) {
        self.api = api
        self.pool = pool
        self.clients = clients
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        guard clients.admit() else {
            refuse(context, .tooManyClients(ControlServer.maxClients))
            return
        }
        admitted = true
        guard let provider = context.channel as? SocketOptionProvider else {
            refuse(context, .internalError("cannot identify the peer"))
            return
        }
        let credentials: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(PeerCredentials.option))
        credentials.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let c):
                self.peer = ControlPeer(pid: c.pid, uid: c.uid, gid: c.gid)
                context.read()
            case .failure(let error):
                self.logger.warning("cannot identify a control client", metadata: ["error": "\(error)"])
                self.refuse(context, .internalError("cannot identify the peer"))
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let subscriber {
            api.hub.remove(subscriber)
            self.subscriber = nil
        }
        if admitted {
            admitted = false
            clients.leave()
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lines.append(Self.unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        pump(context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            sendEvents(context)
            pump(context)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is LineDecoder.TooLong || (error as? ByteToMessageDecoderError) != nil {
            refuse(context, .requestTooLarge())
        } else {
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            // A subscriber may be quiet as long as it reads what it is sent; one
            // whose stream has been stuck for the whole idle time is closed.
            if subscriber != nil && context.channel.isWritable { return }
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Answers the next queued line, or asks for more input when none is left.
    private func pump(_ context: ChannelHandlerContext) {
        guard !busy, !closing, let peer else { return }
        var answered = false
        defer { if answered { context.flush() } }
        while let line = lines.first {
            lines.removeFirst()
            let request: RPCRequest
            switch RPCWire.decodeRequest(line.readableBytesView) {
            case .failure(let failure):
                write(context, RPCWire.encodeResponse(id: failure.id, .failure(failure.error)))
                answered = true
                continue
            case .success(let r):
                request = r
            }
            if ControlAPI.methods[request.method]?.onLoop ?? true {
                // Cheap and non-blocking (or unknown): answered here, in order.
                let outcome = api.handle(request, from: peer)
                answer(context, request, outcome)
                answered = true
                if request.method == "subscribe", case .success(let result) = outcome { subscribe(context, result) }
                continue
            }
            busy = true
            let api = self.api
            pool.runIfActive(eventLoop: context.eventLoop) {
                api.handle(request, from: peer)
            }.assumeIsolated().whenComplete { result in
                self.busy = false
                switch result {
                case .success(let outcome): self.answer(context, request, outcome)
                case .failure: self.answer(context, request, .failure(.unavailable("the daemon is shutting down")))
                }
                context.flush()
                self.pump(context)
            }
            return
        }
        // Read on only while our answers drain: a client that does not read them
        // is paused once 64 KiB wait for it (NIO's default write watermarks).
        if context.channel.isWritable { context.read() }
    }

    /// Starts (or, subscribed again, replaces) this connection's event stream.
    private func subscribe(_ context: ChannelHandlerContext, _ result: JSONValue) {
        let kinds = Set((result["kinds"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(DaemonEvent.Kind.init) })
        if let old = subscriber { api.hub.remove(old) }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let s = EventHub.Subscriber(kinds: kinds, capacity: ControlServer.subscriberQueue) {
            loop.execute { bound.value.0.sendEvents(bound.value.1) }
        }
        subscriber = s
        api.hub.add(s)
    }

    /// Writes queued events while the client keeps up; what it does not read
    /// stays in the bounded queue (and overflows into the missed count).
    private func sendEvents(_ context: ChannelHandlerContext) {
        guard let subscriber, !closing else { return }
        var wrote = false
        while context.channel.isWritable {
            let entries = subscriber.take(limit: 64)
            if entries.isEmpty { break }
            for entry in entries {
                switch entry {
                case .event(let e):
                    write(context, RPCWire.encodeNotification(method: "event", params: e.json))
                case .missed(let n):
                    write(context, RPCWire.encodeNotification(method: "events_missed", params: [
                        "missed": .integer(Int64(n)),
                        "message": .string("\(n) events were dropped here: this client did not read fast enough (queue of \(ControlServer.subscriberQueue))"),
                    ]))
                }
            }
            wrote = true
        }
        if wrote { context.flush() }
    }

    /// Queues the answer (a notification, without an id, gets none: JSON-RPC 2.0).
    private func answer(_ context: ChannelHandlerContext, _ request: RPCRequest, _ outcome: Result<JSONValue, RPCError>) {
        guard let id = request.id else { return }
        context.write(Self.wrapOutboundOut(context.channel.allocator.buffer(bytes: RPCWire.encodeResponse(id: id, outcome))),
                      promise: nil)
    }

    private func write(_ context: ChannelHandlerContext, _ bytes: [UInt8]) {
        context.write(Self.wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
    }

    /// Answers with `error` (id null) and closes.
    private func refuse(_ context: ChannelHandlerContext, _ error: RPCError) {
        closing = true
        let bytes = RPCWire.encodeResponse(id: .null, .failure(error))
        context.writeAndFlush(Self.wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes))).assumeIsolated()
            .whenComplete { _ in context.close(promise: nil) }
    }
}
