import NIOConcurrencyHelpers
import MPTCPAPI
import MPTCPKit
import Synchronization

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
        /// stays full) marks the gap in its place. `missedKinds` tallies the kinds
        /// of every event missed, so a replay of the start-up record can count only
        /// those a subscriber takes.
        fileprivate let state = NIOLockedValueBox<(queue: [Entry], events: Int, closed: Bool,
                                                   missedKinds: [DaemonEvent.Kind: Int])>(([], 0, false, [:]))

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
                    s.missedKinds[event.kind, default: 0] += 1
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

    /// Start-up events kept for subscribers that ask for them (`subscribe`'s
    /// `start_up`): what the daemon published before it was ready, when no client
    /// could have subscribed yet (adoption, the first pass, hooks enabled, the
    /// first network events). A subscriber of every kind until `endStartUp`; at
    /// most `startUpLimit` events, the rest counted as missed. Nil when not kept.
    private let startUp: Subscriber?
    static let startUpLimit = 256

    /// A hub; `keepingStartUp` keeps what is published until `endStartUp`.
    init(keepingStartUp: Bool = false) {
        startUp = keepingStartUp ? Subscriber(kinds: Set(DaemonEvent.Kind.allCases), capacity: Self.startUpLimit) {} : nil
        if let startUp { add(startUp) }
    }

    /// Start-up is over (the daemon is ready): what was kept stays, nothing is added.
    func endStartUp() {
        guard let startUp else { return }
        // Under the publishing lock, so no event is half-offered to the record.
        published.withLockedValue { _ in
            if subscribers.withLockedValue({ $0.removeValue(forKey: ObjectIdentifier(startUp)) }) != nil {
                count.subtract(1, ordering: .relaxed)
            }
        }
    }

    /// Adds `s`, first queueing the start-up events it takes (those kept so far,
    /// with their own numbers, and where the record overflowed, how many of its
    /// kinds were missed), so it sees them before anything published after.
    /// `after`: the highest number the subscriber's client was already sent (a
    /// connection subscribing again); only kept events numbered above it are
    /// replayed, so no client is sent an event twice or out of order.
    func add(_ s: Subscriber, replayingStartUp: Bool, after: Int64 = 0) {
        guard replayingStartUp, let startUp else { return add(s) }
        let woken = published.withLockedValue { _ -> Bool in
            let (kept, missedKinds) = startUp.state.withLockedValue { ($0.queue, $0.missedKinds) }
            var lastKept: Int64 = 0
            s.state.withLockedValue { q in
                for entry in kept {
                    switch entry {
                    case .event(let e):
                        lastKept = max(lastKept, e.seq)
                        guard e.seq > after, s.kinds.contains(e.kind), s.filter?(e) ?? true else { continue }
                        q.queue.append(entry)
                        q.events += 1
                    case .missed:
                        // The record is never drained: its one gap is at its end, after
                        // every kept event. Counted by kind (a filter cannot judge an
                        // event that was not kept), and only when it lies above `after`.
                        let missed = missedKinds.filter { s.kinds.contains($0.key) }.values.reduce(0, +)
                        if missed > 0 && lastKept > after { q.queue.append(.missed(missed)) }
                    }
                }
            }
            add(s)
            return s.state.withLockedValue { !$0.queue.isEmpty }
        }
        if woken { s.wake() }
    }

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
