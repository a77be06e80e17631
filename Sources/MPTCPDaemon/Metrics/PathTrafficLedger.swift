import MPTCPAPI
import MPTCPKit

/// The per-path series (`mptcpctld_path_*` of `DaemonMetrics.pathTrafficFamilies`)
/// from successive connection-table readings (pure, unit-tested): the byte and
/// retransmission counters are running sums of what `SubflowCounterTracker`
/// says each path carried between two scrapes, so they never go back while the
/// daemon runs (closed subflows take their last growth with them); the gauges
/// describe the reading itself. A path (interface × family) has series from the
/// first reading with a subflow on it, and keeps them.
struct PathTrafficLedger: Sendable {
    private var tracker = SubflowCounterTracker()
    /// What each path carried since the first reading (its subflows' counters then included).
    private(set) var totals: [PathTrafficKey: TrafficCounters] = [:]

    /// What a reading shows of one path now.
    struct PathNow: Equatable {
        var established = 0, joining = 0, closing = 0
        /// srtt of the established subflows, in microseconds.
        var rtts: [UInt32] = []
        var backupEstablished = 0
    }

    /// Adds what each path carried since the previous reading.
    mutating func record(_ connections: [Connection]) {
        for (key, carried) in tracker.advance(connections) {
            totals[key] = (totals[key] ?? TrafficCounters()) + carried
        }
        for subflow in connections.lazy.flatMap(\.subflows) where totals[PathTrafficKey(subflow)] == nil {
            totals[PathTrafficKey(subflow)] = TrafficCounters()
        }
    }

    /// Each path's subflows in `connections`, by state (closed ones not counted).
    static func now(_ connections: [Connection]) -> [PathTrafficKey: PathNow] {
        var paths: [PathTrafficKey: PathNow] = [:]
        for subflow in connections.lazy.flatMap(\.subflows) where subflow.state != .close {
            var p = paths[PathTrafficKey(subflow)] ?? PathNow()
            if subflow.carriesTraffic {
                p.established += 1
                if subflow.backup { p.backupEstablished += 1 }
                if let rtt = subflow.tcpInfo?.rttMicroseconds { p.rtts.append(rtt) }
            } else if subflow.state.isHandshaking {
                p.joining += 1
            } else {
                p.closing += 1
            }
            paths[PathTrafficKey(subflow)] = p
        }
        return paths
    }

    /// The sample lines of every known path, grouped by family (`# TYPE` line
    /// first); `label` names a path's interface. Without a reading (`connections`
    /// nil: sock_diag failed) only the counters.
    func lines(_ connections: [Connection]?, label: (PathTrafficKey) -> String) -> [String] {
        let now = connections.map(Self.now)
        let keys = totals.keys.sorted()
        var out: [String] = []
        for family in DaemonMetrics.pathTrafficFamilies {
            var samples: [String] = []
            for key in keys {
                let labels = [label(key), key.isIPv4 ? "ipv4" : "ipv6"]
                samples += Self.samples(family, labels, total: totals[key] ?? TrafficCounters(),
                                        now: now.map { $0[key] ?? PathNow() })
            }
            if !samples.isEmpty { out += ["# TYPE \(family.name) \(family.type.rawValue)"] + samples }
        }
        return out
    }

    /// One path's samples of `family`; gauges only with a reading (`now`).
    static func samples(_ family: MetricFamily, _ labels: [String], total: TrafficCounters, now: PathNow?) -> [String] {
        func line(_ value: String, _ extra: [String] = []) -> String { DaemonMetrics.sample(family, labels + extra, value) }
        switch family.name {
        case "mptcpctld_path_sent_bytes_total": return [line("\(total.bytesSent)")]
        case "mptcpctld_path_acked_bytes_total": return [line("\(total.bytesAcked)")]
        case "mptcpctld_path_received_bytes_total": return [line("\(total.bytesReceived)")]
        case "mptcpctld_path_retransmits_total": return [line("\(total.retransmissions)")]
        default: break
        }
        guard let now else { return [] }
        switch family.name {
        case "mptcpctld_path_subflows":
            return [line("\(now.closing)", ["closing"]), line("\(now.established)", ["established"]),
                    line("\(now.joining)", ["joining"])]
        case "mptcpctld_path_backup":
            return [line(now.established > 0 && now.backupEstablished == now.established ? "1" : "0")]
        case "mptcpctld_path_rtt_seconds":
            guard let min = now.rtts.min(), let max = now.rtts.max() else { return [] }
            let mean = Double(now.rtts.reduce(0) { $0 + UInt64($1) }) / Double(now.rtts.count)
            return [line(seconds(Double(max)), ["max"]), line(seconds(mean), ["mean"]), line(seconds(Double(min)), ["min"])]
        default: return []
        }
    }

    /// Microseconds as seconds, in the exposition format's number syntax.
    static func seconds(_ microseconds: Double) -> String { "\(microseconds / 1_000_000)" }
}
