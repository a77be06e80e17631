import FoundationEssentials
import Glibc
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
        // The control plane's threads (ControlThreads): one event loop, one worker.
        let threads = try await api.threads.acquire()
        do {
            try await serve(group: threads.group, pool: threads.pool)
        } catch {
            await api.threads.release()
            throw error
        }
        await api.threads.release()
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
        let directory = Directory.containing(path)
        if !FileManager.default.fileExists(atPath: directory), let code = Directory.create(directory, mode: 0o755) {
            throw ControlSocketError("cannot create \(directory): \(String(cString: strerror(code)))")
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
