import MPTCPKit
import NIOCore
import NIOPosix

/// The control plane's two threads, shared by the control socket and the
/// metrics endpoint: one event loop (accepts, reads, writes, and answers the
/// cheap methods) and one worker (`NIOThreadPool` of 1: the requests that block
/// on netlink, one at a time, in order; the metrics scrapes take their turn).
/// Both have entered the daemon's namespace, once, before anyone uses them.
/// Started by the first service that needs them, stopped when the last is done.
actor ControlThreads {
    struct Threads: Sendable {
        let group: MultiThreadedEventLoopGroup
        let pool: NIOThreadPool
        /// Done when both threads are inside the namespace.
        let entered: EventLoopFuture<Void>
    }

    private let namespace: NetworkNamespace
    private var threads: Threads?
    private var users = 0

    init(namespace: NetworkNamespace) { self.namespace = namespace }

    /// The threads, started if they are not; every `acquire` is paired with a `release`.
    func acquire() async throws -> Threads {
        let threads = self.threads ?? start()
        self.threads = threads
        users += 1
        do { try await threads.entered.get() } catch {
            await release()
            throw error
        }
        return threads
    }

    /// Stops the threads when the last user is done with them.
    func release() async {
        users -= 1
        guard users == 0, let threads else { return }
        self.threads = nil
        try? await threads.pool.shutdownGracefully()
        try? await threads.group.shutdownGracefully()
    }

    /// Both threads, each asked at once to enter the namespace (their first job:
    /// anything queued after it runs inside).
    private func start() -> Threads {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let namespace = self.namespace
        let loop = group.next()
        let worker = pool.runIfActive(eventLoop: loop) { try namespace.enterOnThisThread() }
        let eventLoop = loop.submit { try namespace.enterOnThisThread() }
        return Threads(group: group, pool: pool, entered: worker.and(eventLoop).map { _ in })
    }
}
