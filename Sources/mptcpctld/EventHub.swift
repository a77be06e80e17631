import NIOConcurrencyHelpers
import MPTCPAPI
import MPTCPKit
import Synchronization

/// Something the daemon saw or did, as `subscribe` streams it and hooks get it:
/// the control API's event schema (`EventRecord`), which the CLI shares.
typealias DaemonEvent = EventRecord

extension EventRecord {
    /// The hook event this is, if hooks run on it (`mptcpctld(8)`, HOOKS).
    var hookEvent: String? {
        switch (kind, type) {
        case (.kernel, "established"): "connection_established"
        case (.kernel, "closed"): "connection_closed"
        case (.kernel, "sub_established"): "subflow_established"
        case (.kernel, "sub_closed"): "subflow_closed"
        case (.action, "promoted"): "promotion"
        case (.action, "demoted"): "demotion"
        case (.action, "handover"): "handover"
        case (.interface, "link_up"): "interface_up"
        case (.interface, "link_down"): "interface_down"
        case (.policy, "reloaded"): "policy_reloaded"
        default: nil
        }
    }

    /// A kernel event; `time` is set when it is published, right after it was read.
    init(_ e: Event, interfaceName: (Int32) -> String?) {
        self.init(e, time: 0, interfaceName: interfaceName)
    }
}

/// What the actions published while it is current were caused by: each action
/// names, as `cause` and `cause_seq`, the latest event published before it in
/// the same scope that concerns it (its connection's kernel event, else the pass's
/// interface, policy or resync event), or, when there was none, the trigger (a
/// timer, start-up, a periodic resync). A scope is used by one thread at a time:
/// the event thread for a batch of kernel events, the service's loop for a pass.
final class EventCause: Sendable {
    let trigger: String
    private struct Seen: Sendable {
        var byToken: [String: (seq: Int64, name: String)] = [:]
        var latest: (seq: Int64, name: String)?
    }
    private let seen = NIOLockedValueBox(Seen())

    init(trigger: String) { self.trigger = trigger }

    /// Notes a published event that is not an action as a possible cause.
    fileprivate func record(_ e: EventRecord) {
        let cause = (seq: e.seq, name: "\(e.kind.rawValue):\(e.type)")
        seen.withLockedValue { s in
            if e.kind == .kernel, let token = e.fields["token"]?.stringValue { s.byToken[token] = cause } else { s.latest = cause }
        }
    }

    /// Names the action's cause in its fields.
    fileprivate func attribute(_ e: inout EventRecord) {
        let cause = seen.withLockedValue { s in e.fields["token"]?.stringValue.flatMap { s.byToken[$0] } ?? s.latest }
        e.fields["cause"] = .string(cause?.name ?? trigger)
        if let cause { e.fields["cause_seq"] = .integer(cause.seq) }
    }
}

/// Fans daemon events out to subscribers (API clients, the hook runner). Each
/// has a bounded queue: when it is full, newer events are counted as missed
/// instead of queued, so a slow consumer costs memory up to its bound and never
/// blocks the publisher (the event thread, the service's loop, API requests).
final class EventHub: Sendable {
    /// What a subscriber's queue holds: events, and where events were dropped
    /// because it was full, how many.
    enum Entry: Sendable {
        case event(DaemonEvent)
        case missed(Int)
    }

    final class Subscriber: Sendable {
        let kinds: Set<DaemonEvent.Kind>
        let capacity: Int
        /// Events of those kinds that this subscriber takes (nil: all).
        let filter: (@Sendable (DaemonEvent) -> Bool)?
        /// Called (outside the hub's lock) when events arrive in an empty queue.
        let wake: @Sendable () -> Void
        /// At most `capacity` events; a `missed` entry (merged while the queue
        /// stays full) marks the gap in its place.
        fileprivate let state = NIOLockedValueBox<(queue: [Entry], events: Int, closed: Bool)>(([], 0, false))

        init(kinds: Set<DaemonEvent.Kind>, capacity: Int, filter: (@Sendable (DaemonEvent) -> Bool)? = nil,
             wake: @escaping @Sendable () -> Void) {
            self.kinds = kinds
            self.filter = filter
            self.capacity = capacity
            self.wake = wake
        }

        /// Takes up to `limit` entries, in order.
        func take(limit: Int = .max) -> [Entry] {
            state.withLockedValue { s in
                let n = min(limit, s.queue.count)
                let entries = Array(s.queue.prefix(n))
                s.queue.removeFirst(n)
                for case .event in entries { s.events -= 1 }
                return entries
            }
        }

        /// Returns true when the queue was empty (the consumer needs a wake-up).
        fileprivate func offer(_ event: DaemonEvent) -> Bool {
            state.withLockedValue { s in
                if s.closed { return false }
                if s.events >= capacity {
                    if case .missed(let n)? = s.queue.last { s.queue[s.queue.count - 1] = .missed(n + 1) } else { s.queue.append(.missed(1)) }
                    return false
                }
                s.queue.append(.event(event))
                s.events += 1
                return s.queue.count == 1
            }
        }
    }

    private let subscribers = NIOLockedValueBox<[ObjectIdentifier: Subscriber]>([:])
    /// Read without the lock on every publish: nothing to do without subscribers.
    private let count = Synchronization.Atomic<Int>(0)

    var isObserved: Bool { count.load(ordering: .relaxed) > 0 }

    func add(_ s: Subscriber) {
        subscribers.withLockedValue { $0[ObjectIdentifier(s)] = s }
        count.add(1, ordering: .relaxed)
    }

    func remove(_ s: Subscriber) {
        s.state.withLockedValue { $0.closed = true }
        if subscribers.withLockedValue({ $0.removeValue(forKey: ObjectIdentifier(s)) }) != nil {
            count.subtract(1, ordering: .relaxed)
        }
    }

    /// The cause of the actions published by this thread (or task) now, if any.
    @TaskLocal static var cause: EventCause?

    /// Runs `body` with `cause` naming what the actions it publishes were caused by.
    func attributing<T>(to cause: EventCause, _ body: () throws -> T) rethrows -> T {
        try Self.$cause.withValue(cause, operation: body)
    }

    /// The last number and time given to an event. Held while an event is offered,
    /// so every subscriber receives events in the order of their numbers.
    private let published = NIOLockedValueBox<(seq: Int64, time: Double)>((0, 0))

    func publish(_ event: @autoclosure () -> DaemonEvent) {
        guard isObserved else { return }
        publish([event()])
    }

    /// Numbers and timestamps the events (in order: a cause before what it caused),
    /// attributes actions to their cause (`attributing`), and queues each for the
    /// subscribers that take it.
    func publish(_ events: [DaemonEvent]) {
        guard isObserved, !events.isEmpty else { return }
        let cause = Self.cause
        let woken = published.withLockedValue { last -> [Subscriber] in
            let current = subscribers.withLockedValue { Array($0.values) }
            var woken: [Subscriber] = []
            for var e in events {
                last.seq += 1
                e.seq = last.seq
                // Ordered even when the wall clock steps back.
                e.time = max(EventRecord.now(), last.time)
                last.time = e.time
                if e.kind == .action { cause?.attribute(&e) } else { cause?.record(e) }
                for s in current where s.kinds.contains(e.kind) && s.filter?(e) ?? true {
                    if s.offer(e) && !woken.contains(where: { $0 === s }) { woken.append(s) }
                }
            }
            return woken
        }
        for s in woken { s.wake() }
    }
}

/// What changed between two reads of links and addresses, as interface events.
func interfaceEvents(from old: NetworkSnapshot, to new: NetworkSnapshot) -> [DaemonEvent] {
    var events: [DaemonEvent] = []
    let before = Dictionary(old.links.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
    for link in new.links.sorted(by: { $0.index < $1.index }) {
        let wasUp = before[link.index]?.isUsable
        let up = link.isUsable
        if wasUp != up && !(wasUp == nil && !up) {
            events.append(DaemonEvent(.interface, up ? "link_up" : "link_down", [
                "interface": .string(link.name), "interface_index": .integer(Int64(link.index)),
                "oper_state": .string(link.operState.description),
            ]))
        }
    }
    let now = Set(new.links.map(\.index))
    for link in old.links where !now.contains(link.index) && link.isUsable {
        events.append(DaemonEvent(.interface, "link_down", [
            "interface": .string(link.name), "interface_index": .integer(Int64(link.index)), "oper_state": "gone",
        ]))
    }
    func key(_ a: InterfaceAddress) -> String { "\(a.interfaceIndex) \(a.address)/\(a.prefixLength)" }
    let oldAddresses = Set(old.addresses.map(key))
    let newAddresses = Set(new.addresses.map(key))
    let names = Dictionary((old.links + new.links).map { ($0.index, $0.name) }, uniquingKeysWith: { _, b in b })
    func event(_ type: String, _ a: InterfaceAddress) -> DaemonEvent {
        var f: [String: JSONValue] = ["address": .string(a.address.description), "prefix_length": .integer(Int64(a.prefixLength)),
                                      "interface_index": .integer(Int64(a.interfaceIndex))]
        if let name = names[a.interfaceIndex] { f["interface"] = .string(name) }
        return DaemonEvent(.interface, type, f)
    }
    for a in new.addresses where !oldAddresses.contains(key(a)) { events.append(event("address_added", a)) }
    for a in old.addresses where !newAddresses.contains(key(a)) { events.append(event("address_removed", a)) }
    return events
}
