import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// A named thread that runs one body to its end, for work that blocks (netlink
/// requests, waits, sleeps) and so must stay off Swift's cooperative pool. An
/// async caller hands work over with `start` and awaits its end with `finished`
/// without blocking a pool thread.
final class OwnedThread: Sendable {
    private let name: String
    /// Whether the body returned, and who waits for that.
    private let end = NIOLockedValueBox<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    init(name: String) { self.name = name }

    /// Starts the thread; false when the system refused one (the body did not run).
    func start(_ body: @escaping @Sendable () -> Void) -> Bool {
        let job = Unmanaged.passRetained(Job(name: name, body: body, thread: self))
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { raw in
            guard let raw else { return nil }
            let job = Unmanaged<Job>.fromOpaque(raw).takeRetainedValue()
            nameCurrentThread(job.name)
            job.body()
            job.thread.markDone()
            return nil
        }, job.toOpaque())
        guard rc == 0 else {
            job.release()
            return false
        }
        pthread_detach(t)
        return true
    }

    /// Returns once the body has returned.
    func finished() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = end.withLockedValue { state -> Bool in
                if !state.done { state.waiters.append(c) }
                return state.done
            }
            if done { c.resume() }
        }
    }

    private func markDone() {
        let waiters = end.withLockedValue { state in
            state.done = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for w in waiters { w.resume() }
    }

    private final class Job {
        let name: String
        let body: @Sendable () -> Void
        let thread: OwnedThread
        init(name: String, body: @escaping @Sendable () -> Void, thread: OwnedThread) {
            self.name = name
            self.body = body
            self.thread = thread
        }
    }
}

/// prctl(PR_SET_NAME) through procfs (Glibc's Swift module hides
/// pthread_setname_np); the kernel keeps the first 15 bytes. For `top -H`,
/// `ps -L` and tracing.
func nameCurrentThread(_ name: String) {
    let fd = open("/proc/thread-self/comm", O_WRONLY)
    guard fd >= 0 else { return }
    _ = name.withCString { write(fd, $0, strlen($0)) }
    close(fd)
}
