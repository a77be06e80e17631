import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// Hands work to the one thread that owns some state (the userspace path
/// manager's: the MPTCP event thread), so that state needs no lock.
///
/// Other threads `perform` a body: it is queued, the owner is woken through a
/// pipe it polls beside its own sockets, runs the queued bodies in the order
/// they were posted (`runPending`), and the caller returns once its body has
/// run, with its result: a call keeps the order and the effects it had when it
/// ran on the caller's thread. On the owner itself a body runs at once, so the
/// owner never waits for another thread.
///
/// Until an owner is `reserve`d, and again after `release`, bodies run on the
/// caller's thread, one at a time (tests drive a manager that way; so does a
/// daemon whose owner thread has stopped).
final class Mailbox: Sendable {
    private enum Mode: Sendable {
        /// No owner: bodies run on the caller's thread, under `inlineLock`.
        case inline
        /// An owner thread is starting: bodies are queued for it.
        case awaitingOwner
        case owned(pthread_t)
    }

    private struct State: Sendable {
        var mode: Mode = .inline
        var queue: [@Sendable () -> Void] = []
    }

    private let state = NIOLockedValueBox(State())
    /// Held while a body runs without an owner, and while the mode changes.
    private let inlineLock = NIOLock()
    /// The pipe's end the owner polls (readable while bodies are queued); -1
    /// when the system gave no pipe, and the mailbox then never takes an owner.
    let fileDescriptor: Int32
    /// The end `ring` writes to.
    private let bell: Int32

    init() {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            (fileDescriptor, bell) = (-1, -1)
            return
        }
        for fd in ends {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        (fileDescriptor, bell) = (ends[0], ends[1])
    }

    deinit {
        if fileDescriptor >= 0 { close(fileDescriptor) }
        if bell >= 0 { close(bell) }
    }

    /// Whether the calling thread is the owner.
    var isOwnerThread: Bool {
        state.withLockedValue { s in
            if case .owned(let owner) = s.mode { pthread_equal(owner, pthread_self()) != 0 } else { false }
        }
    }

    /// Runs `body` on the owner (at once when called there) and returns its
    /// result once it has run; without an owner, runs it here, holding a lock
    /// that is not recursive: a body must not call `perform` itself (the
    /// manager's bodies call its `…Now` methods, never its public entry points).
    func perform<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
        if isOwnerThread { return body() }
        let reply = Reply<T>()
        let queued = inlineLock.withLock {
            let queued = state.withLockedValue { s -> Bool in
                if case .inline = s.mode { return false }
                s.queue.append { reply.fulfil(body()) }
                return true
            }
            if !queued { reply.fulfil(body()) }
            return queued
        }
        if queued { ring() }
        return reply.wait()
    }

    /// Queues bodies for an owner thread about to start (which then `claim`s
    /// the mailbox); waits for a body running without an owner to end. False
    /// when there is no pipe to poll: bodies keep running on their callers.
    func reserve() -> Bool {
        guard fileDescriptor >= 0 else { return false }
        inlineLock.withLock { state.withLockedValue { $0.mode = .awaitingOwner } }
        return true
    }

    /// Makes the calling thread the owner (after `reserve`, on that thread).
    func claim() {
        let me = pthread_self()
        state.withLockedValue { $0.mode = .owned(me) }
    }

    /// On the owner: runs the bodies queued so far, in order.
    func runPending() {
        // Emptied before the queue is taken: a body queued after that rings anew.
        var rings = [UInt8](repeating: 0, count: 64)
        while read(fileDescriptor, &rings, rings.count) > 0 {}
        let bodies = state.withLockedValue { s in
            defer { s.queue = [] }
            return s.queue
        }
        for body in bodies { body() }
    }

    /// Wakes the owner's poll (a body was queued, or it should stop).
    func ring() {
        guard bell >= 0 else { return }
        // A full pipe (EAGAIN) is readable already: that ring is not needed.
        var one: UInt8 = 1
        _ = write(bell, &one, 1)
    }

    /// The owner is gone (its thread ended): the bodies still queued run here,
    /// and later ones on their callers' threads.
    func release() {
        inlineLock.withLock {
            let bodies = state.withLockedValue { s in
                s.mode = .inline
                defer { s.queue = [] }
                return s.queue
            }
            for body in bodies { body() }
        }
    }

    /// Where a caller waits for its body's result.
    private final class Reply<T: Sendable>: @unchecked Sendable {
        /// True once `value` is set; guards it.
        private let done = ConditionLock(value: false)
        private var value: T?

        func fulfil(_ v: T) {
            done.lock()
            value = v
            done.unlock(withValue: true)
        }

        func wait() -> T {
            done.lock(whenValue: true)
            defer { done.unlock() }
            guard let v = value else { preconditionFailure("a mailbox reply is signalled only once its value is set") }
            return v
        }
    }
}
