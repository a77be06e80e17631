import NIOConcurrencyHelpers
import MPTCPAPI
import MPTCPKit
import Synchronization

/// What the actions published while it is current were caused by: each action
/// names, as `cause` and `cause_seq`, the latest event published before it in
/// the same scope that concerns it (its connection's kernel event, else the pass's
/// interface, policy or resync event), or, when there was none, the trigger (a
/// timer, start-up, a periodic resync). A scope is used by one thread at a time:
/// the event thread for a batch of kernel events or a timer; the endpoint thread
/// for a pass, whose userspace-PM work runs on the event thread (through its
/// mailbox, carrying the scope) while the endpoint thread waits for it.
final class EventCause: Sendable {
    let trigger: String
    private struct Seen: Sendable {
        var byToken: [String: (seq: Int64, name: String)] = [:]
        var latest: (seq: Int64, name: String)?
    }
    private let seen = NIOLockedValueBox(Seen())

    init(trigger: String) { self.trigger = trigger }

    /// Notes a published event that is not an action as a possible cause.
    func record(_ e: EventRecord) {
        let cause = (seq: e.seq, name: "\(e.kind.rawValue):\(e.type)")
        seen.withLockedValue { s in
            if e.kind == .kernel, let token = e.fields["token"]?.stringValue { s.byToken[token] = cause } else { s.latest = cause }
        }
    }

    /// Names the action's cause in its fields.
    func attribute(_ e: inout EventRecord) {
        let cause = seen.withLockedValue { s in e.fields["token"]?.stringValue.flatMap { s.byToken[$0] } ?? s.latest }
        e.fields["cause"] = .string(cause?.name ?? trigger)
        if let cause { e.fields["cause_seq"] = .integer(cause.seq) }
    }
}
