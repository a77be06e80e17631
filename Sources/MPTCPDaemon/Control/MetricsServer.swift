import Logging
import MPTCPAPI
import MPTCPPolicy
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// `[metrics] listen`: `GET /metrics` over HTTP, the Prometheus text format (the
/// same text as the `metrics` API method). Anything else gets 404 or 405.
struct MetricsServer: Service, CustomStringConvertible {
    var description: String { "metrics endpoint \(listen.host):\(listen.port)" }
    let listen: MetricsListen
    let api: ControlAPI
    let logger: Logger

    func run() async throws {
        // Scrapes are answered off the event loop (they read sock_diag, a
        // blocking netlink dump) by the control plane's worker (ControlThreads),
        // in turn with API requests.
        let threads: ControlThreads.Threads
        do { threads = try await api.threads.acquire() } catch {
            throw ControlSocketError("cannot serve metrics on \(listen.host):\(listen.port): \(error)")
        }
        let api = self.api
        let pool = threads.pool
        do {
            let bootstrap = ServerBootstrap(group: threads.group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandlers([
                            IdleStateHandler(allTimeout: .seconds(30)), MetricsHTTPHandler(api: api, pool: pool),
                        ])
                    }
                }
            // The socket is made by the thread that calls bind: one inside the
            // daemon's namespace, so the address is the namespace's.
            let listen = self.listen
            let channel = try api.namespace.perform { () -> Result<any Channel, any Error> in
                Result { try bootstrap.bind(host: listen.host, port: listen.port).wait() }
            }.get()
            logger.info("serving metrics over HTTP", metadata: ["listen": "\(listen.host):\(listen.port)", "path": "/metrics"])
            try? await gracefulShutdown()
            try? await channel.close()
        } catch {
            await api.threads.release()
            throw ControlSocketError("cannot serve metrics on \(listen.host):\(listen.port): \(error)")
        }
        await api.threads.release()
    }
}

/// Answers each request as it completes (keep-alive as the client asks).
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let api: ControlAPI
    private let pool: NIOThreadPool
    private var head: HTTPRequestHead?

    init(api: ControlAPI, pool: NIOThreadPool) {
        self.api = api
        self.pool = pool
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            if path != "/metrics" {
                respond(context, head, .notFound, "mptcpctld serves /metrics only\n")
            } else if head.method != .GET && head.method != .HEAD {
                respond(context, head, .methodNotAllowed, "GET /metrics\n", extra: ["Allow": "GET, HEAD"])
            } else {
                let api = self.api
                pool.runIfActive(eventLoop: context.eventLoop) { api.metrics() }.assumeIsolated().whenComplete { result in
                    switch result {
                    case .success(.success(let record)):
                        self.respond(context, head, .ok, record.text,
                                     contentType: "text/plain; version=0.0.4; charset=utf-8")
                    case .success(.failure(let e)):
                        self.respond(context, head, .serviceUnavailable, e.message + "\n")
                    case .failure:
                        self.respond(context, head, .serviceUnavailable, "the daemon is shutting down\n")
                    }
                }
            }
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ status: HTTPResponseStatus, _ body: String,
                         contentType: String = "text/plain; charset=utf-8", extra: [String: String] = [:]) {
        var headers: HTTPHeaders = ["Content-Type": contentType]
        for (name, value) in extra { headers.add(name: name, value: value) }
        let bytes = context.channel.allocator.buffer(string: body)
        headers.add(name: "Content-Length", value: "\(bytes.readableBytes)")
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
                      promise: nil)
        if head.method != .HEAD { context.write(Self.wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil) }
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }
}
