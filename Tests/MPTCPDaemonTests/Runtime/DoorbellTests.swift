import Testing
@testable import MPTCPDaemon

/// The endpoint thread's mailbox: triggers coalesce, a ring from another
/// thread wakes the waiter, a deadline ends the wait with nothing rung.
@Suite struct DoorbellTests {
    @Test func triggersRungBeforeTheWaitAreTakenTogetherOnce() {
        let doorbell = Doorbell()
        doorbell.ring(.network)
        doorbell.ring(.reload)
        doorbell.ring(.network)
        #expect(doorbell.wait(until: nil) == [.network, .reload])
        #expect(doorbell.wait(until: .now) == [], "taken: nothing left")
    }

    @Test func aPassedDeadlineEndsTheWaitWithNothingRung() {
        #expect(Doorbell().wait(until: .now - .seconds(1)) == [])
    }

    @Test func aRingFromAnotherThreadWakesTheWaiter() async {
        let doorbell = Doorbell()
        let thread = OwnedThread(name: "test-waiter")
        let seen = Box()
        #expect(thread.start { seen.value = doorbell.wait(until: nil) })
        doorbell.ring(.stop)
        await thread.finished()
        #expect(seen.value == .stop)
        await thread.finished()  // a second wait returns at once
    }

    private final class Box: @unchecked Sendable { var value: Pending = [] }
}
