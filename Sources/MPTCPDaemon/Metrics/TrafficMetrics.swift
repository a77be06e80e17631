import Logging
import MPTCPAPI
import MPTCPKit
import Synchronization

/// The exporter's state between scrapes: the per-path ledger, the interface
/// names it labels paths with, and the last reading of the kernel's MPTCP
/// counters. `ControlAPI.metrics()` owns it and is its only user; scrapes run on
/// the control worker thread (the control socket's `metrics` and the HTTP
/// endpoint's `/metrics` alike are queued on that one-thread pool), but the
/// mutex keeps each scrape's read-advance-render one step should a second
/// thread ever scrape, so two scrapes never feed the tracker out of order.
final class TrafficMetrics: Sendable {
    private struct State: Sendable {
        var ledger = PathTrafficLedger()
        /// A path's interface name as last seen, kept when the interface is gone
        /// (its counters stay under the name they had).
        var names: [Int32: String] = [:]
        var kernel: MPTCPKernelCounters?
    }

    private let state = Mutex(State())

    /// What one scrape adds to the registry's text.
    struct Scrape {
        /// Sample lines, each family's group led by its `# TYPE` line.
        var lines: [String]
        /// Families to declare at this scrape only: unknown `MPTcpExt` fields,
        /// and the per-connection families when `per_connection` is on.
        var families: [MetricFamily]
    }

    /// Advances the per-path counters by `connections` (one sock_diag reading,
    /// nil when it failed) and renders every series computed here; `kernel` is
    /// this scrape's `MPTcpExt` reading (nil: failed, the last one is shown
    /// again so the counters do not fall to 0); `interfaceNames` is asked only
    /// when a subflow runs on an interface not named yet.
    func scrape(_ connections: [Connection]?, kernel: MPTCPKernelCounters?, perConnection: Int,
                interfaceNames: () -> [Int32: String]?) -> Scrape {
        state.withLock { s in
            var lines: [String] = []
            var families: [MetricFamily] = []
            if let connections {
                s.ledger.record(connections)
                let unnamed = s.ledger.totals.keys.contains { $0.interfaceIndex != 0 && s.names[$0.interfaceIndex] == nil }
                if unnamed, let table = interfaceNames() { s.names.merge(table) { _, new in new } }
            }
            let names = s.names
            lines += s.ledger.lines(connections) { key in
                key.interfaceIndex == 0 ? "unknown" : names[key.interfaceIndex] ?? "if\(key.interfaceIndex)"
            }
            if let kernel { s.kernel = kernel }
            if let counters = s.kernel {
                let k = ScrapeSeries.kernelCounters(counters)
                lines += k.lines
                families += k.undeclared
            }
            if perConnection > 0 {
                lines += ScrapeSeries.connections(connections ?? [], cap: perConnection)
                families += DaemonMetrics.connectionFamilies
            }
            return Scrape(lines: lines, families: families)
        }
    }
}
