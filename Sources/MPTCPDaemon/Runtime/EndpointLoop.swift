import Logging
import Metrics
import MPTCPKit
import MPTCPPolicy

/// The endpoint thread (`mptcpctld-endp`), the daemon's one owner of the
/// reconciler, the retry series, the resync deadline and the wake-up the
/// userspace path manager asks for: it starts the daemon's other threads,
/// runs one pass per doorbell ring or due deadline, and at shutdown stops
/// those threads and applies `on_exit`. Every kernel call it makes blocks this
/// thread, never Swift's cooperative pool. Its state is touched on this thread
/// only (construction excepted).
final class EndpointLoop: @unchecked Sendable {
    let reconciler: Reconciler
    /// Source routing and rp_filter (`[routing]`), planned first in each pass.
    let routing: RoutingOwner
    let kernel: KernelHandle
    let policies: PolicyStore
    let configPath: String
    let namespace: NetworkNamespace
    let logger: Logger
    let doorbell: Doorbell
    let state: DaemonState
    let hub: EventHub
    let hooks: HookRunner?
    /// Path health verdicts (written by the health thread), read once per pass for steering.
    let health: HealthBoard

    /// The threads this one starts and stops: interface watcher, MPTCP event reader.
    var watcher: NetworkWatcher?
    var events: EventWatcher?
    /// The health thread (`EndpointLoop+Health`); nil when it could not start.
    var healthThread: HealthThread?
    /// The userspace path manager, when the policy selects it at start-up.
    var manager: ConnectionManager?
    /// Links and addresses as last seen, for interface events (nil: not read yet).
    var lastNetwork: NetworkSnapshot?

    /// Retries of passes whose changes the kernel refused.
    private var retries = EndpointRetrySeries()
    private var resyncAt: ContinuousClock.Instant?

    init(reconciler: Reconciler, routing: RoutingOwner, kernel: KernelHandle, policies: PolicyStore, configPath: String, namespace: NetworkNamespace,
         logger: Logger, doorbell: Doorbell, state: DaemonState, hub: EventHub, hooks: HookRunner?,
         health: HealthBoard = HealthBoard()) {
        self.reconciler = reconciler
        self.routing = routing
        self.kernel = kernel
        self.policies = policies
        self.configPath = configPath
        self.namespace = namespace
        self.logger = logger
        self.doorbell = doorbell
        self.state = state
        self.hub = hub
        self.hooks = hooks
        self.health = health
    }

    /// The thread's body: start-up (its outcome handed to `started`), the
    /// passes until `.stop`, then shutdown.
    func run(started: (Result<Void, any Error>) -> Void) {
        do { try startUp() } catch {
            stopThreads()
            started(.failure(error))
            return
        }
        // What start-up published is kept for `subscribe`'s start_up; from now on a client can be there.
        hub.endStartUp()
        SystemdNotify.send("READY=1\nSTATUS=endpoints follow the policy")
        logger.info("running", metadata: ["config": "\(configPath)", "namespace": "\(namespace)",
                                           "owned": "\(reconciler.owned.count)"])
        started(.success(()))
        scheduleResync(after: policies.current.daemon.resyncInterval)
        while true {
            var why = doorbell.wait(until: [retries.retryAt, resyncAt, reconciler.readdAt].compactMap { $0 }.min())
            if why.contains(.stop) { break }
            why.formUnion(dueDeadlines())
            if !why.isEmpty { pass(why) }
        }
        shutDown()
    }

    /// The deadlines that have come, as triggers (each cleared, the resync's set anew).
    private func dueDeadlines() -> Pending {
        let now = ContinuousClock.now
        var due: Pending = []
        if let at = retries.retryAt, at <= now {
            due.insert(.retry)
            retries.retryDue()
        }
        // Endpoints replaced on healing are added again (`Reconciler.readdAt`).
        if let at = reconciler.readdAt, at <= now {
            due.insert(.health)
            reconciler.readdDue()
        }
        if let at = resyncAt, at <= now {
            due.insert(.resync)
            scheduleResync(after: policies.current.daemon.resyncInterval)
        }
        return due
    }

    /// `daemon.resync_interval` seconds from now; 0 turns resyncs off.
    func scheduleResync(after seconds: Int) {
        resyncAt = seconds > 0 ? .now + .seconds(seconds) : nil
    }

    /// One pass: reload, interface events, source routing, the userspace path manager, then the endpoints.
    private func pass(_ why: Pending) {
        let trigger = why.contains(.reload) ? "reload" : why.contains(.lost) ? "resync-after-loss"
            : why.contains(.network) ? "network" : why.contains(.health) ? "health"
            : why.contains(.retry) ? "retry" : "resync"
        // What this pass publishes (interface events, the reload, a resync) is
        // the cause of the actions that follow it in the pass.
        let cause = EventCause(trigger: trigger)
        // Something changed: a refused change deserves a fresh series of retries.
        if !why.isDisjoint(with: [.network, .reload, .lost, .health]) { retries.restart() }
        if why.contains(.reload) {
            let interval = policies.current.daemon.resyncInterval
            hub.attributing(to: cause) { reload() }
            manager?.policyChanged()
            if policies.current.daemon.resyncInterval != interval { scheduleResync(after: policies.current.daemon.resyncInterval) }
        }
        if why.contains(.lost) {
            hub.attributing(to: cause) { hub.publish(DaemonEvent(.lost, "interface_notifications_lost")) }
            Counter(label: "mptcpctld_interface_notifications_lost_total").increment()
            logger.warning("interface notifications were lost; re-reading everything")
        }
        // Links and addresses, read once per pass for the interface events, the
        // connection manager and the reconciler (which reads them itself
        // when this read failed, and reports that).
        var network: NetworkSnapshot?
        do {
            let n = try kernel.network.read()
            hub.attributing(to: cause) { observe(n) }
            network = n
        } catch {
            if manager != nil { logger.error("cannot read links and addresses", metadata: ["error": "\(error)"]) }
        }
        // Path health, read once: routing, the userspace path manager and the
        // endpoints all steer by the same verdicts in one pass.
        let view = health.view
        // Source routing first: a new address's rule must exist before the
        // endpoint or subflow that sends its first SYN from it.
        let routed = hub.attributing(to: cause) { reconcileRouting(network: network, trigger: trigger, health: view) }
        if manager != nil { driveManager(why, network: network, health: view, cause: cause) }
        let reconciled = hub.attributing(to: cause) { reconciler.reconcile(trigger: trigger, network: network, health: view) }
        state.update { $0.owned = reconciler.owned }
        settle(reconciled: reconciled && routed)
        handPathsToHealth(network: network)
        if why.contains(.reload) { SystemdNotify.send("READY=1") }
    }

    /// Source routing before the endpoints (`RoutingOwner`; it plans from the
    /// policy and the network, not from the endpoints made): needs the pass's
    /// links and addresses (a pass that could not read them is retried).
    func reconcileRouting(network: NetworkSnapshot?, trigger: String, health: PathHealthView = .none) -> Bool {
        let routed = network.map { routing.reconcile(policy: policies.current, network: $0, health: health, trigger: trigger) } ?? false
        state.update { [routing] in
            $0.routing = routing.owned
            $0.routingNotes = routing.notes
        }
        return routed
    }

    /// Publishes the interface events since the last snapshot.
    func observe(_ network: NetworkSnapshot) {
        if let lastNetwork, hub.isObserved { hub.publish(interfaceEvents(from: lastNetwork, to: network)) }
        lastNetwork = network
    }

    /// The userspace path manager: MPTCP events and its timers are handled on
    /// the event thread; here rtnetlink changes, reloads and resyncs re-apply
    /// the policy everywhere.
    private func driveManager(_ why: Pending, network: NetworkSnapshot?, health: PathHealthView, cause: EventCause) {
        guard let manager else { return }
        hub.attributing(to: cause) {
            if let network {
                manager.update(policy: policies.current, network: network, health: health)
                if why.contains(.resync) { manager.resync(reason: "resync") } else { manager.decideAll() }
            }
        }
    }

    /// After a pass: a failed one schedules a retry, within the series' bounds.
    private func settle(reconciled: Bool) {
        switch retries.settle(reconciled: reconciled, now: .now) {
        case .settled, .alreadyPending, .givenUp: break
        case .retry(let delay, let attempt):
            logger.notice("will retry", metadata: ["in_ms": "\(delay)", "attempt": "\(attempt)"])
            hub.publish(.endpointRetry("endpoint_retry_scheduled", ["in_ms": .integer(Int64(delay)), "attempt": .integer(Int64(attempt))]))
        case .exhausted(let failedPasses):
            Counter(label: "mptcpctld_endpoint_retries_exhausted_total").increment()
            logger.warning("giving up retrying refused endpoint changes until the network or the policy changes, or the next resync",
                           metadata: ["failed_passes": "\(failedPasses)"])
            hub.publish(.endpointRetry("endpoint_retries_exhausted", ["failed_passes": .integer(Int64(failedPasses))]))
        }
    }
}
