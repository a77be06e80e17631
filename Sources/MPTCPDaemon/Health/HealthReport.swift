import Logging
import Metrics
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy

/// What the daemon says about a path's change of health: the log line, the
/// `health` event (`path_up`, `path_degraded`, `path_down`; hooks run it) and
/// the metrics. Apart from the thread, so the shapes are unit-tested.
enum HealthReport {
    /// The event's type: `path_` and the new state (`unknown` is never reported).
    static func eventType(_ t: PathTransition) -> String { "path_" + t.to.rawValue }

    /// The `health` event: interface, family, from, to, evidence, rtt_ms and
    /// loss_percent (absent while unknown).
    static func event(_ t: PathTransition) -> DaemonEvent {
        var f: [String: JSONValue] = [
            "interface": .string(t.key.interface), "family": .string(t.key.family.rawValue),
            "from": .string(t.from.rawValue), "to": .string(t.to.rawValue), "evidence": .string(t.evidence),
        ]
        if let rtt = t.rttMilliseconds { f["rtt_ms"] = .number((rtt * 10).rounded() / 10) }
        if let loss = t.lossPercent { f["loss_percent"] = .integer(Int64(loss)) }
        return DaemonEvent(.health, eventType(t), f)
    }

    /// The log line's message and metadata.
    static func logLine(_ t: PathTransition) -> (message: String, metadata: Logger.Metadata) {
        var m: Logger.Metadata = [
            "interface": "\(t.key.interface)", "family": "\(t.key.family.rawValue)", "from": "\(t.from.rawValue)",
            "to": "\(t.to.rawValue)", "evidence": "\(t.evidence)",
        ]
        if let rtt = t.rttMilliseconds { m["rtt_ms"] = "\((rtt * 10).rounded() / 10)" }
        if let loss = t.lossPercent { m["loss_percent"] = "\(loss)" }
        return ("path \(t.key) is \(t.to.rawValue)", m)
    }

    /// `mptcpctld_path_state`'s value: 0 up or unknown, 1 degraded, 2 down.
    static func stateValue(_ s: PathHealthState) -> Int {
        switch s {
        case .up, .unknown: 0
        case .degraded: 1
        case .down: 2
        }
    }

    /// Logs, counts and publishes one transition.
    static func report(_ t: PathTransition, logger: Logger, hub: EventHub) {
        let line = logLine(t)
        logger.notice("\(line.message)", metadata: line.metadata)
        let labels = [("interface", t.key.interface), ("family", t.key.family.rawValue)]
        Counter(label: "mptcpctld_path_transitions_total", dimensions: labels + [("to", t.to.rawValue)]).increment()
        Gauge(label: "mptcpctld_path_state", dimensions: labels).record(stateValue(t.to))
        hub.publish(event(t))
    }

    static func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }
}
