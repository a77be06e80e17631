import FoundationEssentials
import Logging
import MPTCPAPI
import MPTCPKit
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

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
    /// The highest event number written to this connection: a second `subscribe`
    /// replays only start-up events above it (each event at most once, in order).
    private var lastSentSeq: Int64 = 0

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
            if ControlAPI.answersOnLoop(request.method) {
                // Cheap and non-blocking (or unknown): answered here, in order.
                let outcome = api.handle(request, from: peer)
                answer(context, request, outcome)
                answered = true
                if case .success(let a) = outcome, let subscription = a.record as? SubscriptionRecord {
                    subscribe(context, subscription)
                }
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
    private func subscribe(_ context: ChannelHandlerContext, _ subscription: SubscriptionRecord) {
        let kinds = Set(subscription.kinds)
        if let old = subscriber { api.hub.remove(old) }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let s = EventHub.Subscriber(kinds: kinds, capacity: ControlServer.subscriberQueue) {
            loop.execute { bound.value.0.sendEvents(bound.value.1) }
        }
        subscriber = s
        api.hub.add(s, replayingStartUp: subscription.startUp, after: lastSentSeq)
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
                let notification: ControlNotification
                switch entry {
                case .event(let e):
                    notification = .event(e)
                    lastSentSeq = max(lastSentSeq, e.seq)
                case .missed(let n):
                    notification = .eventsMissed(Int64(n), message: "\(n) events were dropped here: this client did not read fast enough"
                                                 + " (queue of \(ControlServer.subscriberQueue))")
                }
                write(context, notification.line)
            }
            wrote = true
        }
        if wrote { context.flush() }
    }

    /// Queues the answer (a notification, without an id, gets none: JSON-RPC 2.0).
    private func answer(_ context: ChannelHandlerContext, _ request: RPCRequest, _ outcome: Result<ControlAnswer, RPCError>) {
        guard let id = request.id else { return }
        let bytes = RPCWire.encodeResponse(id: id, outcome.map(\.json))
        context.write(Self.wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
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
