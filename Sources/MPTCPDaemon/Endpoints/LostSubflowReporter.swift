import Logging
import Metrics
import MPTCPKit
import MPTCPPolicy

/// Under the in-kernel path manager: tells of the subflows the peer reset for a
/// cause (`LostSubflow`), which the kernel never opens again, so their
/// connections run without that path for the rest of their lives and nothing
/// else says so. Each is counted in `mptcpctld_subflows_reset_by_peer_total`
/// (label `reason`) and logged as a warning, at most one line per 10 s
/// (`ReportBudget`; the next line says how many it held back). A reset in
/// events the kernel dropped (`eventsLost`) is not seen.
///
/// Used only on the MPTCP event thread (`mptcpctld-event`), which serialises it.
final class LostSubflowReporter: @unchecked Sendable {
    static let logInterval = 10_000

    private let logger: Logger
    private let clock: @Sendable () -> Int
    private var budget = ReportBudget(intervalMilliseconds: LostSubflowReporter.logInterval)
    private var counters: [SubflowResetReason: Counter] = [:]

    init(logger: Logger, clock: @escaping @Sendable () -> Int = ConnectionManager.monotonicMilliseconds()) {
        self.logger = logger
        self.clock = clock
    }

    func note(_ notices: [EventNotice]) {
        for case .event(let e) in notices {
            guard let lost = LostSubflow(e) else { continue }
            let counter = counters[lost.reason] ?? Counter(label: "mptcpctld_subflows_reset_by_peer_total",
                                                           dimensions: [("reason", lost.reason.name)])
            counters[lost.reason] = counter
            counter.increment()
            guard let heldBack = budget.admit(at: clock()) else { continue }
            var metadata: Logger.Metadata = [
                "token": "\(formatToken(lost.token))", "local": "\(lost.local)", "remote": "\(lost.remote)",
                "reason": "\(lost.reason) (\(lost.reason.rawValue))", "transient": "\(lost.transient)",
            ]
            if heldBack > 0 { metadata["held_back"] = "\(heldBack)" }
            if lost.serverSide {
                logger.warning("the peer reset a subflow; the peer opened this connection and decides whether to open the subflow again",
                               metadata: metadata)
            } else {
                logger.warning("the peer reset a subflow and the in-kernel path manager will not open it again: the connection runs without this path",
                               metadata: metadata)
            }
        }
    }
}
