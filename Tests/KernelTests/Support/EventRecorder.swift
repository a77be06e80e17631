import Foundation
import MPTCPKit

/// Every MPTCP event of a namespace, in the order the kernel sent them. `wait`
/// looks on from the event it last returned (events in sequence); `first`
/// looks from the beginning (an event that may already have come).
final class EventRecorder: @unchecked Sendable {
    let subscription: EventSubscription
    private(set) var events: [Event] = []
    /// Where the next `wait` starts looking.
    private var cursor = 0

    init(_ namespace: NetworkNamespace) throws {
        subscription = try EventSubscription(namespace: namespace)
    }

    /// The first event from the last one waited for on that `match`es, reading
    /// more until it comes (or failing after `seconds`).
    @discardableResult
    func wait(seconds: Double = 15, _ what: String, _ match: (Event) -> Bool) throws -> Event {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let i = events[cursor...].firstIndex(where: match) {
                cursor = i + 1
                return events[i]
            }
            guard Date() < deadline else { throw LabError("no \(what) event within \(seconds) s; saw: \(events)") }
            for notice in try subscription.next(timeoutMilliseconds: 200) {
                if case .event(let e) = notice { events.append(e) }
            }
        }
    }

    /// Reads what is queued, without waiting long.
    func poll() {
        for notice in (try? subscription.next(timeoutMilliseconds: 50)) ?? [] {
            if case .event(let e) = notice { events.append(e) }
        }
    }

    /// The first event since the recorder began (seen before or arriving within
    /// `seconds`) matching `match`; does not move the cursor `wait` uses.
    @discardableResult
    func first(_ what: String, seconds: Double = 15, _ match: (Event) -> Bool) throws -> Event {
        let deadline = Date().addingTimeInterval(seconds)
        var checked = 0
        while true {
            if let e = events[checked...].first(where: match) { return e }
            checked = events.count
            guard Date() < deadline else { break }
            for notice in try subscription.next(timeoutMilliseconds: 200) {
                if case .event(let e) = notice { events.append(e) }
            }
        }
        throw LabError("no \(what) event within \(seconds) s; saw: \(events.map { "\($0)" })")
    }
}
