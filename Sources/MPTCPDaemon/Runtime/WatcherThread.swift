import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A thread of its own for blocking netlink reads (kept off the concurrency
/// pool): runs `step()` until `join()`. Subclasses own their socket and say what
/// one step is; `start` and `join` run on the endpoint thread, which serialises them.
class WatcherThread: @unchecked Sendable {
    private let what: String
    /// The thread's name (15 bytes at most), for `top -H`, `ps -L` and tracing.
    private let name: String
    private let stop = Synchronization.Atomic<Bool>(false)
    let logger: Logger
    /// Set by `start`, cleared by `join`.
    private var thread: pthread_t?

    init(what: String, name: String, logger: Logger) {
        self.what = what
        self.name = name
        self.logger = logger
    }

    /// One blocking read (with a timeout, or woken by `interrupt`, so `join` is
    /// noticed) and its hand-off.
    func step() {}

    /// Called by `join` once the thread is told to stop: a step that waits
    /// without a timeout must be woken here.
    func interrupt() {}

    /// Starts the thread; false when the system refused one.
    @discardableResult
    func start() -> Bool {
        let box = Unmanaged.passRetained(self)
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { raw in
            guard let raw else { return nil }
            let watcher = Unmanaged<WatcherThread>.fromOpaque(raw).takeRetainedValue()
            nameCurrentThread(watcher.name)
            while !watcher.stop.load(ordering: .relaxed) { watcher.step() }
            return nil
        }, box.toOpaque())
        if rc == 0 { thread = t } else {
            box.release()
            logger.critical("cannot start \(what)", metadata: ["errno": "\(rc)"])
        }
        return rc == 0
    }

    func join() {
        stop.store(true, ordering: .relaxed)
        interrupt()
        if let thread { pthread_join(thread, nil) }
        thread = nil
    }
}
