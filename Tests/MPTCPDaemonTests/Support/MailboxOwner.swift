import Synchronization
@testable import MPTCPDaemon
#if canImport(Glibc)
import Glibc
#endif

/// A thread that owns a mailbox as the event thread does: polls it (with no
/// timeout) and runs what is posted, until stopped.
final class MailboxOwner: Sendable {
    let mailbox: Mailbox
    let thread = OwnedThread(name: "test-owner")
    let stopping = Atomic<Bool>(false)
    /// The owning thread's pthread id, once it runs.
    let id = Atomic<UInt>(0)

    init(_ mailbox: Mailbox = Mailbox()) { self.mailbox = mailbox }

    func start() -> Bool {
        guard mailbox.reserve() else { return false }
        return thread.start { [self] in
            mailbox.claim()
            id.store(UInt(pthread_self()), ordering: .relaxed)
            while !stopping.load(ordering: .relaxed) {
                var fd = pollfd(fd: mailbox.fileDescriptor, events: Int16(POLLIN), revents: 0)
                if poll(&fd, 1, -1) > 0 { mailbox.runPending() }
            }
        }
    }

    /// Stops the thread; later work runs on its callers.
    func stop() async {
        stopping.store(true, ordering: .relaxed)
        mailbox.ring()
        await thread.finished()
        mailbox.release()
    }
}
