import NIOConcurrencyHelpers
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import Metrics
import MPTCPKit
import MPTCPPolicy
import ServiceLifecycle
import Synchronization
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

/// Names interface indexes in kernel events for subscribers and hooks; used only
/// on the event thread (which serialises it), and only while someone listens.
final class InterfaceNames: @unchecked Sendable {
    private let namespace: NetworkNamespace
    private var names: [Int32: String] = [:]
    /// Count `mptcpctld_kernel_events_total` here (the in-kernel path manager's
    /// daemon; under the userspace one the connection manager counts them).
    private let countEvents: Bool
    private var counters: [EventType: Counter] = [:]

    init(namespace: NetworkNamespace, countEvents: Bool = false) {
        self.namespace = namespace
        self.countEvents = countEvents
    }

    func publish(_ notices: [EventNotice], to hub: EventHub) {
        if countEvents {
            for notice in notices {
                switch notice {
                case .event(let e):
                    let c = counters[e.type] ?? Counter(label: "mptcpctld_kernel_events_total", dimensions: [("type", e.type.name)])
                    counters[e.type] = c
                    c.increment()
                case .eventsLost:
                    // The same name as the userspace path manager's statistics counter.
                    Counter(label: "mptcpctld_pm_events_lost_total").increment()
                case .malformed: break
                }
            }
        }
        guard hub.isObserved else { return }
        var events: [DaemonEvent] = []
        for notice in notices {
            switch notice {
            case .event(let e):
                events.append(DaemonEvent(e) { index in
                    if names[index] == nil, let table = try? InterfaceTable.read(namespace: namespace) { names = table.names }
                    return names[index]
                })
            case .eventsLost:
                events.append(.kernelEventsLost(
                    message: "the kernel dropped MPTCP events (receive buffer overrun); the daemon resynchronises", time: 0))
            case .malformed(let why):
                events.append(.malformedEvent(why, time: 0))
            }
        }
        hub.publish(events)
    }
}
