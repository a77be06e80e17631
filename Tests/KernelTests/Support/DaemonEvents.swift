import Foundation
import MPTCPAPI

/// The events a daemon publishes (its control API's `subscribe` stream, what
/// `mptcpctl monitor --daemon` and hooks get), in the order it numbered them:
/// what kernel tests assert on instead of the daemon's log text. `wait` looks
/// on from the event it last returned (events in sequence); `first` and `all`
/// look from the beginning of the subscription.
final class DaemonEvents: @unchecked Sendable {
    let client: ControlClient
    private(set) var events: [EventRecord] = []
    /// Events the daemon dropped from this subscriber's queue (`events_missed`).
    private(set) var missed: Int64 = 0
    /// Where the next `wait` starts looking.
    private var cursor = 0

    /// Subscribes to `kinds` (every kind when nil) on the control socket at
    /// `socketPath`; with `startUp`, from the events the daemon kept from its start-up.
    init(socketPath: String, kinds: [EventRecord.Kind]? = nil, startUp: Bool = false) throws {
        client = try ControlClient(socketPath)
        let params = SubscribeParams(kinds: kinds, startUp: startUp).params
        guard try client.result("subscribe", params)["subscribed"] == true else {
            throw LabError("the daemon at \(socketPath) did not subscribe this client")
        }
    }

    /// Reads what arrives within `timeoutMilliseconds`.
    private func read(timeoutMilliseconds: Int32) throws {
        var wait = timeoutMilliseconds
        while case .some(let line) = client.readLine(timeoutMilliseconds: wait) {
            guard let line else { throw LabError("the daemon closed the subscription; saw: \(described)") }
            wait = 0
            guard case .notification(let method, let params) = try RPCWire.decodeMessage(line) else { continue }
            switch method {
            case "event": events.append(try EventRecord(json: params))
            case "events_missed": missed += params["missed"]?.integerValue ?? 0
            default: break
            }
        }
    }

    /// Reads what is queued, without waiting long.
    func poll() throws { try read(timeoutMilliseconds: 50) }

    /// The events seen so far, one line each (for failure messages).
    var described: String { events.map { "\($0.text) seq=\($0.seq)" }.joined(separator: "\n") }

    /// The first event after the last one waited for that `match`es, reading
    /// more until it comes (or failing after `seconds`).
    @discardableResult
    func wait(seconds: Double = 20, _ what: String, _ match: (EventRecord) -> Bool) throws -> EventRecord {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let i = events[cursor...].firstIndex(where: match) {
                cursor = i + 1
                return events[i]
            }
            guard Date() < deadline else { throw LabError("no \(what) event within \(seconds) s; saw:\n\(described)") }
            try read(timeoutMilliseconds: 200)
        }
    }

    /// The first event since the subscription (seen before or arriving within
    /// `seconds`) that `match`es; does not move the cursor `wait` uses.
    @discardableResult
    func first(_ what: String, seconds: Double = 20, _ match: (EventRecord) -> Bool) throws -> EventRecord {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let e = events.first(where: match) { return e }
            guard Date() < deadline else { throw LabError("no \(what) event within \(seconds) s; saw:\n\(described)") }
            try read(timeoutMilliseconds: 200)
        }
    }

    /// Every event since the subscription that `match`es, after reading what is queued.
    func all(_ match: (EventRecord) -> Bool) throws -> [EventRecord] {
        try poll()
        return events.filter(match)
    }

    /// Waits until `count` events since the subscription `match`, and returns them all.
    @discardableResult
    func count(atLeast count: Int, seconds: Double = 20, _ what: String, _ match: (EventRecord) -> Bool) throws -> [EventRecord] {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let found = events.filter(match)
            if found.count >= count { return found }
            guard Date() < deadline else {
                throw LabError("\(found.count) of \(count) \(what) events within \(seconds) s; saw:\n\(described)")
            }
            try read(timeoutMilliseconds: 200)
        }
    }
}

extension EventRecord {
    /// A field as text (`flatText`), for matching: `e["token"] == token`.
    subscript(key: String) -> String? { fields[key].flatMap(Self.flatText) }

    /// A command the kernel refused: a subflow, a destroy, an announcement, a
    /// priority change (`*_refused`), or an endpoint change (`result=refused`).
    var isRefusal: Bool { kind == .action && (type.hasSuffix("_refused") || self["result"] == "refused") }
}
