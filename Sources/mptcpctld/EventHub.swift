import NIOConcurrencyHelpers
import Foundation
import MPTCPAPI
import MPTCPKit
import Synchronization

/// Something the daemon saw or did, as `subscribe` streams it and hooks get it.
struct DaemonEvent: Sendable {
    enum Kind: String, Sendable, CaseIterable {
        /// An MPTCP event from the kernel (`type` is the kernel's name: `established`, `sub_closed`…).
        case kernel
        /// A link went up or down, an address came or went.
        case interface
        /// Something the daemon did, or its engine decided, with the reason.
        case action
        /// Live connections re-read through sock_diag.
        case resync
        /// The policy file was reloaded, or a reload was refused.
        case policy
        /// Kernel events or interface notifications were dropped (receive buffer overrun).
        case lost
    }

    var kind: Kind
    var type: String
    /// Flat fields (`token`, `local_address`, `interface`, `reason`…): strings,
    /// integers and booleans only, so each is also a hook's environment variable.
    var fields: [String: JSONValue]
    var time = Date().timeIntervalSince1970

    /// The JSON object a subscriber receives.
    var json: JSONValue {
        var object = fields
        object["kind"] = .string(kind.rawValue)
        object["type"] = .string(type)
        object["time"] = .number((time * 1000).rounded() / 1000)
        return .object(object)
    }

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

    /// A kernel event with its fields named as `mptcpctl monitor --json` names them.
    init(_ e: Event, interfaceName: (Int32) -> String?) {
        kind = .kernel
        type = e.type.name
        var f: [String: JSONValue] = [:]
        if let t = e.token { f["token"] = .string(formatToken(t)) }
        if let v = e.family { f["family"] = .string(v == 2 ? "inet" : v == 10 ? "inet6" : String(v)) }
        if let v = e.localAddress { f["local_address"] = .string(v.description) }
        if let v = e.localPort { f["local_port"] = .integer(Int64(v)) }
        if let v = e.remoteAddress { f["remote_address"] = .string(v.description) }
        if let v = e.remotePort { f["remote_port"] = .integer(Int64(v)) }
        if let v = e.localID { f["local_id"] = .integer(Int64(v)) }
        if let v = e.remoteID { f["remote_id"] = .integer(Int64(v)) }
        if let v = e.backup { f["backup"] = .bool(v) }
        if let v = e.error { f["error"] = .integer(Int64(v)) }
        if let v = e.resetReason { f["reset_reason"] = .integer(Int64(v)) }
        if let v = e.interfaceIndex, v != 0 {
            f["interface_index"] = .integer(Int64(v))
            if let name = interfaceName(v) { f["interface"] = .string(name) }
        }
        if e.isServerSide { f["server_side"] = true }
        fields = f
    }

    init(_ kind: Kind, _ type: String, _ fields: [String: JSONValue] = [:]) {
        self.kind = kind
        self.type = type
        self.fields = fields
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

    func publish(_ event: @autoclosure () -> DaemonEvent) {
        guard isObserved else { return }
        publish([event()])
    }

    func publish(_ events: [DaemonEvent]) {
        guard isObserved, !events.isEmpty else { return }
        let current = subscribers.withLockedValue { Array($0.values) }
        for s in current {
            var wake = false
            for e in events where s.kinds.contains(e.kind) && s.filter?(e) ?? true {
                if s.offer(e) { wake = true }
            }
            if wake { s.wake() }
        }
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
