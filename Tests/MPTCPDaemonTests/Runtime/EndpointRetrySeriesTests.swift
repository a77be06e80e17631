import Testing
@testable import MPTCPDaemon

/// The retries of refused endpoint changes: backoff, a bound, said once when
/// exhausted, a fresh series when something changes.
@Suite struct EndpointRetrySeriesTests {
    private let now = ContinuousClock.now

    @Test func refusedPassesAreRetriedWithDoublingDelaysThenGivenUpOnceSaid() {
        var series = EndpointRetrySeries()
        var delays: [Int] = []
        for attempt in 1...8 {
            guard case .retry(let delay, let n) = series.settle(reconciled: false, now: now) else {
                Issue.record("attempt \(attempt): no retry")
                return
            }
            #expect(n == attempt)
            #expect(series.retryAt == now + .milliseconds(delay))
            delays.append(delay)
            series.retryDue()
        }
        #expect(delays == [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000])
        #expect(series.settle(reconciled: false, now: now) == .exhausted(failedPasses: 9))
        #expect(series.settle(reconciled: false, now: now) == .givenUp)
        #expect(series.retryAt == nil, "nothing pending once given up")
    }

    @Test func aFailedPassWhileARetryIsPendingSchedulesNoSecondOne() {
        var series = EndpointRetrySeries()
        #expect(series.settle(reconciled: false, now: now) == .retry(milliseconds: 1000, attempt: 1))
        #expect(series.settle(reconciled: false, now: now + .milliseconds(10)) == .alreadyPending)
        #expect(series.retryAt == now + .milliseconds(1000))
    }

    @Test func aChangeOrASuccessStartsAFreshSeries() {
        var series = EndpointRetrySeries()
        for _ in 1...9 {
            _ = series.settle(reconciled: false, now: now)
            series.retryDue()
        }
        series.restart()
        #expect(series.settle(reconciled: false, now: now) == .retry(milliseconds: 1000, attempt: 1))
        series.retryDue()
        #expect(series.settle(reconciled: true, now: now) == .settled)
        #expect(series.settle(reconciled: false, now: now) == .retry(milliseconds: 1000, attempt: 1))
    }
}
