import NIOConcurrencyHelpers
import Logging
import Metrics
import MPTCPAPI
import MPTCPKit
import Prometheus
import Synchronization

/// The control API's methods. Requests run one at a time on the server's
/// worker thread, which serialises the use of `kernel` (a handle of the API's
/// own) and has entered the daemon's namespace (so `.current` reads there), or,
/// for the cheap methods (`onLoop`), on the event loop's thread (also inside);
/// read methods are open to every peer, mutating ones need root or membership
/// of `[daemon] admin_group` (`ControlAuthorisation`). The methods themselves
/// are in `ControlAPI+Reading` and `ControlAPI+Commands`; their table in
/// `ControlHandlers`.
final class ControlAPI: Sendable {
    let state: DaemonState
    let kernel: KernelHandle
    let namespace: NetworkNamespace
    /// Rings the service's loop: re-read interfaces and reconcile now.
    let notifyNetwork: @Sendable () -> Void
    /// Rings the service's loop: reload the policy file.
    let reload: @Sendable () -> Void
    /// Who may call the mutating methods.
    let authorisation: ControlAuthorisation
    /// `mptcpctld_api_requests_total` by method and result, made once each.
    private let requestCounters = NIOLockedValueBox<[String: Metrics.Counter]>([:])
    /// The metrics registry `metrics` renders (nil: no metrics system).
    let registry: PrometheusCollectorRegistry?
    /// The per-path, per-connection and kernel-counter series `metrics` computes at scrape time.
    let traffic = TrafficMetrics()
    /// Requests handled in all, counted as they start.
    let requests = Synchronization.Atomic<Int>(0)
    let logger: Logger

    /// Events for `subscribe`.
    let hub: EventHub
    /// The threads requests run on (the control socket's and the metrics endpoint's).
    let threads: ControlThreads

    init(state: DaemonState, kernel: KernelHandle, namespace: NetworkNamespace, adminGroup: UInt32?, logger: Logger,
         registry: PrometheusCollectorRegistry? = nil, hub: EventHub,
         notifyNetwork: @escaping @Sendable () -> Void, reload: @escaping @Sendable () -> Void) {
        self.logger = logger
        self.hub = hub
        self.registry = registry
        self.state = state
        self.kernel = kernel
        self.namespace = namespace
        self.authorisation = ControlAuthorisation(adminGroup: adminGroup)
        self.threads = ControlThreads(namespace: namespace)
        self.notifyNetwork = notifyNetwork
        self.reload = reload
    }

    /// Whether `method` is answered on the event loop (cheap, or unknown) rather
    /// than on the worker thread.
    static func answersOnLoop(_ method: String) -> Bool {
        ControlHandlers.table[method]?.onLoop ?? true
    }

    /// Runs one request for `peer`; every failure is an `RPCError`, never a crash.
    func handle(_ request: RPCRequest, from peer: ControlPeer) -> Result<ControlAnswer, RPCError> {
        requests.add(1, ordering: .relaxed)
        let handler = ControlHandlers.table[request.method]
        let outcome = Self.dispatch(request, to: handler, authorised: { authorisation.check(request.method, peer: peer) }) {
            handler, params throws(RPCError) in try handler.run(self, params)
        }
        count(method: handler == nil ? "unknown" : request.method, outcome)
        return outcome
    }

    /// The dispatch itself, apart from the daemon's state (unit-tested): an
    /// unknown method, a refused peer and bad parameters are errors in that order.
    static func dispatch(_ request: RPCRequest, to handler: ControlHandler?,
                         authorised: () -> RPCError?,
                         run: (ControlHandler, [String: JSONValue]) throws(RPCError) -> ControlAnswer)
        -> Result<ControlAnswer, RPCError> {
        guard let handler else { return .failure(.unknownMethod(request.method)) }
        if handler.definition.mutates, let refusal = authorised() { return .failure(refusal) }
        do { return .success(try run(handler, request.params)) } catch { return .failure(error) }
    }

    private func count(method: String, _ outcome: Result<ControlAnswer, RPCError>) {
        let result: String
        switch outcome {
        case .success: result = "ok"
        case .failure(let e): result = e.name
        }
        requestCounters.withLockedValue { counters in
            let key = method + " " + result
            let counter = counters[key]
                ?? Metrics.Counter(label: "mptcpctld_api_requests_total", dimensions: [("method", method), ("result", result)])
            counters[key] = counter
            counter.increment()
        }
    }
}
