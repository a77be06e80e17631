import Synchronization
import Testing
@testable import MPTCPDaemon
#if canImport(Glibc)
import Glibc
#endif

/// The event thread's mailbox: work posted from another thread runs on the
/// owner, in order, and its caller gets the result once it ran; the owner never
/// waits for itself; without an owner (before one starts, after it stops) work
/// runs on its caller.
@Suite struct MailboxTests {
    /// Touched only by the thread that owns the mailbox (or, without one, its callers one at a time).
    final class Log: @unchecked Sendable { var entries: [Int] = [] }

    @Test func withoutAnOwnerWorkRunsOnItsCaller() {
        let mailbox = Mailbox()
        let me = UInt(pthread_self())
        #expect(mailbox.perform { UInt(pthread_self()) } == me)
        #expect(!mailbox.isOwnerThread)
    }

    @Test func workPostedFromAnotherThreadRunsOnTheOwnerAndItsCallerGetsTheResult() async {
        let owner = MailboxOwner()
        #expect(owner.start())
        let ranOn = owner.mailbox.perform { UInt(pthread_self()) }
        #expect(ranOn == owner.id.load(ordering: .relaxed))
        #expect(ranOn != UInt(pthread_self()))
        #expect(owner.mailbox.perform { Optional<Int>.none } == nil, "an optional result survives the trip")
        await owner.stop()
    }

    @Test func postsRunInTheOrderTheyWereMadeAndEachHasRunWhenItsCallReturns() async {
        let owner = MailboxOwner()
        #expect(owner.start())
        let log = Log()
        for i in 1...50 {
            owner.mailbox.perform { log.entries.append(i) }
            #expect(owner.mailbox.perform { log.entries.last } == i)
        }
        #expect(owner.mailbox.perform { log.entries } == Array(1...50))
        await owner.stop()
    }

    @Test func postsFromManyThreadsAllRunOnTheOwnerOneAtATime() async {
        let owner = MailboxOwner()
        #expect(owner.start())
        let log = Log()
        let mailbox = owner.mailbox
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<4 {
                group.addTask {
                    for i in 0..<100 { mailbox.perform { log.entries.append(t * 1000 + i) } }
                }
            }
        }
        let entries = mailbox.perform { log.entries }
        #expect(entries.count == 400)
        for t in 0..<4 {
            #expect(entries.filter { $0 / 1000 == t } == (0..<100).map { t * 1000 + $0 }, "each caller's posts in its order")
        }
        await owner.stop()
    }

    @Test func workPostedOnTheOwnerRunsAtOnceWithoutWaitingForItself() async {
        let owner = MailboxOwner()
        #expect(owner.start())
        let mailbox = owner.mailbox
        let nested = mailbox.perform { () -> Bool in
            mailbox.isOwnerThread && mailbox.perform { mailbox.isOwnerThread }
        }
        #expect(nested)
        await owner.stop()
    }

    @Test func workPostedBeforeTheOwnerStartsWaitsForIt() async {
        let mailbox = Mailbox()
        #expect(mailbox.reserve())
        let log = Log()
        let poster = OwnedThread(name: "test-poster")
        let posted = Atomic<Bool>(false)
        #expect(poster.start {
            mailbox.perform { log.entries.append(mailbox.isOwnerThread ? 1 : -1) }
            posted.store(true, ordering: .relaxed)
        })
        // Nothing runs it until an owner claims the mailbox and polls.
        let owner = OwnedThread(name: "test-owner")
        #expect(owner.start {
            mailbox.claim()
            var fd = pollfd(fd: mailbox.fileDescriptor, events: Int16(POLLIN), revents: 0)
            while !posted.load(ordering: .relaxed) {
                if poll(&fd, 1, 100) > 0 { mailbox.runPending() }
            }
        })
        await poster.finished()
        await owner.finished()
        mailbox.release()
        #expect(log.entries == [1], "run once, on the owner")
    }

    @Test func afterTheOwnerStopsQueuedAndLaterWorkRunsOnTheCaller() async {
        let owner = MailboxOwner()
        #expect(owner.start())
        await owner.stop()
        let me = UInt(pthread_self())
        #expect(owner.mailbox.perform { UInt(pthread_self()) } == me)
        #expect(!owner.mailbox.isOwnerThread)
    }

    @Test func workQueuedWhenTheOwnerIsReleasedRunsInTheRelease() async {
        let mailbox = Mailbox()
        #expect(mailbox.reserve())  // an owner that never polls
        let poster = OwnedThread(name: "test-poster")
        let result = Atomic<Int>(0)
        #expect(poster.start { result.store(mailbox.perform { 7 }, ordering: .relaxed) })
        // Release once the post is queued (the pipe is readable then).
        var fd = pollfd(fd: mailbox.fileDescriptor, events: Int16(POLLIN), revents: 0)
        while poll(&fd, 1, 100) <= 0 {}
        mailbox.release()
        await poster.finished()
        #expect(result.load(ordering: .relaxed) == 7)
    }
}
