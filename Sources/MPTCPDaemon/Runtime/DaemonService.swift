import NIOConcurrencyHelpers
import FoundationEssentials
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

/// The daemon: watches rtnetlink, reloads on SIGHUP, resyncs periodically, and
/// reconciles on each of these until graceful shutdown, then applies `on_exit`.
struct DaemonService: Service, CustomStringConvertible {
    var description: String { "mptcpctld" }

    let reconciler: Reconciler
    let configPath: String
    let namespace: NetworkNamespace
    let logger: Logger
    /// Rung by the watchers, signals, timers and the control API (`interface.notify`, `policy.reload`).
    let doorbell: Doorbell
    /// What the control API reports.
    let state: DaemonState
    /// Where events go for `subscribe` and hooks.
    let hub: EventHub
    /// Hooks, unless the runner could not be set up.
    let hooks: HookRunner?

    func run() async throws {
        // Subscribe before the first pass so no change between them is missed.
        let monitor = try NetworkMonitor(namespace: namespace)
        let deaf = FaultInjection.ignoreLinkEvents
        if deaf { logger.warning("MPTCPCTLD_DEBUG_IGNORE_LINK_EVENTS=1: link and address changes are seen only on request") }
        let watcher = NetworkWatcher(monitor: monitor, doorbell: doorbell, logger: logger, deaf: deaf)
        watcher.start()
        defer { watcher.join() }

        hooks?.start()
        defer { hooks?.join() }
        // Links and addresses, read once for start-up's reconciliation, the
        // connection manager and, as last seen, for interface events (nil: not read yet).
        let startNetwork = Result { try reconciler.kernel.network.read() }
        var lastNetwork = try? startNetwork.get()
        let hub = self.hub
        func observe(_ network: NetworkSnapshot) {
            if let lastNetwork, hub.isObserved { hub.publish(interfaceEvents(from: lastNetwork, to: network)) }
            lastNetwork = network
        }

        // The MPTCP event socket is made before anything is changed: when it
        // cannot be, start-up stops with the kernel as it found it (no setting
        // applied, no endpoint added, nothing for `on_exit` to give back).
        let userspace = reconciler.policy.kernel.pathManager == "userspace"
        let namespace = self.namespace, eventBuffer = reconciler.policy.daemon.eventBuffer
        func subscribe() throws -> EventSubscription {
            if FaultInjection.failEventSubscription {
                throw StoreError("cannot subscribe to MPTCP events: MPTCPCTLD_DEBUG_FAIL_EVENT_SUBSCRIPTION=1")
            }
            return try EventSubscription(namespace: namespace, receiveBuffer: eventBuffer)
        }
        var subscription: EventSubscription?
        if userspace {
            let s = try subscribe()
            // CREATED repeats in ESTABLISHED (the first event the manager acts on);
            // priority changes and closed listeners change nothing it decides.
            try s.ignore([.created, .subflowPriority, .listenerClosed])
            subscription = s
        } else {
            // The in-kernel path manager decides; the events are read only for
            // `subscribe` and hooks (and cost nothing more while nobody listens).
            do {
                subscription = try subscribe()
            } catch {
                logger.error("cannot listen to MPTCP events: subscribers and hooks will not see them", metadata: ["error": "\(error)"])
            }
        }

        // Actions name what caused them (`EventCause`): here, start-up.
        let startCause = EventCause(trigger: "start")
        _ = reconciler.applySettings(logFound: true)
        if !hub.attributing(to: startCause, { reconciler.reconcile(trigger: "start", network: lastNetwork) }) { doorbell.ring(.retry) }
        state.update { $0.owned = reconciler.owned }

        // The userspace path manager: events on a socket of their own, then adopt
        // every live connection so none is left unmanaged after a restart.
        var manager: ConnectionManager?
        var events: EventWatcher?
        if userspace, let subscription {
            var initial = NetworkSnapshot(links: [], addresses: [], defaultRoutes: [])
            var adopt = true
            switch startNetwork {
            case .success(let network): initial = network
            case .failure(let error):
                // The resync the loop runs next adopts them instead.
                logger.error("cannot read links and addresses: adoption postponed", metadata: ["error": "\(error)"])
                adopt = false
                doorbell.ring(.resync)
            }
            let m = ConnectionManager(kernel: reconciler.kernel, logger: logger, policy: reconciler.policy, network: initial,
                                      hub: hub, wakeLoop: { doorbell.ring(.mptcp) })
            logger.info("listening to MPTCP events", metadata: ["receive_buffer": "\(subscription.receiveBufferSize)"])
            let names = InterfaceNames(namespace: namespace)
            let w = EventWatcher(subscription: subscription, logger: logger) { notices in
                // The kernel's events are published before the actions they cause.
                hub.attributing(to: EventCause(trigger: "kernel")) {
                    names.publish(notices, to: hub)
                    m.handle(notices)
                }
            }
            w.start()
            if adopt { hub.attributing(to: startCause) { m.resync(reason: "start-up adoption") } }
            manager = m
            events = w
            state.update { $0.manager = m }
        } else if let subscription {
            let names = InterfaceNames(namespace: namespace, countEvents: true)
            let w = EventWatcher(subscription: subscription, logger: logger) { names.publish($0, to: hub) }
            w.start()
            events = w
        }
        defer { events?.join() }
        SystemdNotify.send("READY=1\nSTATUS=endpoints follow the policy")
        logger.info("running", metadata: ["config": "\(configPath)", "namespace": "\(namespace)",
                                           "owned": "\(reconciler.owned.count)"])

        // Read by the timer task, written by the loop on reload.
        let resyncInterval = SharedInterval(reconciler.policy.daemon.resyncInterval)
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) { doorbell.ring(.reload) }
            }
            group.addTask {
                while !Task.isCancelled {
                    let interval = resyncInterval.value.load(ordering: .relaxed)
                    // 0 turns resyncs off; look again every minute in case a reload turns them on.
                    do { try await Task.sleep(for: .seconds(interval > 0 ? interval : 60)) } catch { return }
                    if interval > 0 && resyncInterval.value.load(ordering: .relaxed) > 0 { doorbell.ring(.resync) }
                }
            }
            // Refused endpoint changes are retried with backoff (1 s doubling to
            // 60 s, 8 retries, about 3 minutes), then left until the network or the
            // policy changes or the next resync: a lasting refusal is neither
            // hammered nor retried forever (the reconciler logs each one once).
            let endpointRetry = RetryPolicy(initialMilliseconds: 1000, maximumMilliseconds: 60_000, attempts: 8)
            var failedPasses = 0
            var retryScheduled = false
            for await _ in doorbell.stream.cancelOnGracefulShutdown() {
                let why = doorbell.take()
                if why.isEmpty { continue }
                let trigger = why.contains(.reload) ? "reload" : why.contains(.lost) ? "resync-after-loss"
                    : why.contains(.network) ? "network" : why.contains(.retry) ? "retry"
                    : why.contains(.resync) ? "resync" : why.contains(.timer) ? "timer" : "kernel"
                // What this pass publishes (interface events, the reload, a resync) is
                // the cause of the actions that follow it in the pass.
                let cause = EventCause(trigger: trigger)
                if why.contains(.retry) { retryScheduled = false }
                // Something changed: a refused change deserves a fresh series of retries.
                if !why.isDisjoint(with: [.network, .reload, .lost]) { failedPasses = 0 }
                if why.contains(.reload) {
                    hub.attributing(to: cause) { reload() }
                    manager?.policyChanged()
                    resyncInterval.value.store(reconciler.policy.daemon.resyncInterval, ordering: .relaxed)
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
                if !why.isSubset(of: [.mptcp, .timer]) {
                    do {
                        let n = try reconciler.kernel.network.read()
                        hub.attributing(to: cause) { observe(n) }
                        network = n
                    } catch {
                        if manager != nil { logger.error("cannot read links and addresses", metadata: ["error": "\(error)"]) }
                    }
                }
                if let manager {
                    // MPTCP events are handled on the event thread; here: rtnetlink
                    // changes, reloads and resyncs re-apply the policy everywhere.
                    hub.attributing(to: cause) {
                        if let network {
                            manager.update(policy: reconciler.policy, network: network)
                            if why.contains(.resync) { manager.resync(reason: "resync") } else { manager.decideAll() }
                        }
                        if why.contains(.timer) { manager.timerFired() }
                    }
                    // .mptcp: the event thread needs a wake-up sooner than the armed one.
                    if let delay = manager.rearm() {
                        group.addTask {
                            try? await Task.sleep(for: .milliseconds(delay))
                            doorbell.ring(.timer)
                        }
                    }
                    if why.isSubset(of: [.mptcp, .timer]) { continue }
                }
                let reconciled = hub.attributing(to: cause) { reconciler.reconcile(trigger: trigger, network: network) }
                state.update { $0.owned = reconciler.owned }
                if reconciled {
                    failedPasses = 0
                } else {
                    failedPasses += 1
                    if retryScheduled {
                        // A retry is on its way already.
                    } else if endpointRetry.allowsRetry(after: failedPasses) {
                        retryScheduled = true
                        let delay = endpointRetry.delay(attempt: failedPasses, jitter: 0)
                        logger.notice("will retry", metadata: ["in_ms": "\(delay)", "attempt": "\(failedPasses)"])
                        group.addTask {
                            try? await Task.sleep(for: .milliseconds(delay))
                            doorbell.ring(.retry)
                        }
                    } else if endpointRetry.allowsRetry(after: failedPasses - 1) {
                        // The first pass past the last retry (said once per series).
                        Counter(label: "mptcpctld_endpoint_retries_exhausted_total").increment()
                        logger.warning("giving up retrying refused endpoint changes until the network or the policy changes, or the next resync",
                                       metadata: ["failed_passes": "\(failedPasses)"])
                    }
                }
                if why.contains(.reload) { SystemdNotify.send("READY=1") }
            }
            group.cancelAll()
        }
        watcher.join()
        events?.join()
        manager?.logStatistics()
        SystemdNotify.send("STOPPING=1")
        switch reconciler.policy.kernel.onExit {
        case .remove:
            logger.info("shutting down: removing the endpoints this daemon added and restoring the settings it changed")
            reconciler.removeOwned()
            reconciler.restoreSettings()
        case .keep:
            logger.info("shutting down: keeping endpoints (on_exit = keep)", metadata: [
                "owned": "\(reconciler.owned.count)", "changed_settings": "\(Reconciler.describe(reconciler.changedSettings))",
            ])
        }
    }

    /// SIGHUP: a valid file replaces the policy; an invalid one is logged and ignored.
    private func reload() {
        SystemdNotify.send("RELOADING=1")
        switch PolicyFile.load(path: configPath, namespace: namespace) {
        case .success(let checked):
            let policy = checked.policy
            for w in checked.warnings { logger.warning("\(w.formatted(file: configPath))") }
            let old = reconciler.policy.daemon
            if policy.daemon.stateDirectory != old.stateDirectory || policy.daemon.logLevel != old.logLevel {
                logger.notice("daemon.state_directory and daemon.log_level take effect at the next start")
            }
            if policy.daemon.eventBuffer != old.eventBuffer {
                logger.notice("daemon.event_buffer takes effect at the next start")
            }
            if (policy.kernel.pathManager == "userspace") != (reconciler.policy.kernel.pathManager == "userspace") {
                // Connection management (the event socket, adoption) is set up at start-up only.
                logger.warning("a change of kernel.path_manager to or from \"userspace\" takes full effect at the next start: restart mptcpctld",
                               metadata: ["running": "\(reconciler.policy.kernel.pathManager ?? "keep")", "file": "\(policy.kernel.pathManager ?? "keep")"])
            }
            state.update {
                $0.policy = policy
                $0.loadedAt = Date().timeIntervalSince1970
                $0.reloads += 1
            }
            let changes = policyDifferences(from: reconciler.policy, to: policy)
            if policy.metrics != reconciler.policy.metrics {
                logger.notice("metrics.listen takes effect at the next start")
            }
            reconciler.replace(policy: policy)
            hooks?.configure(policy.hooks)
            logger.notice("reloaded the policy", metadata: ["config": "\(configPath)", "interfaces": "\(policy.interfaces.count)",
                                                            "changes": "\(changes.count)"])
            hub.publish(DaemonEvent(.policy, "reloaded", [
                "config": .string(configPath), "changes": .integer(Int64(changes.count)),
                "changed_keys": .array(changes.map { .string($0.key) }),
            ]))
            _ = reconciler.applySettings(logFound: false)
        case .failure(let problems):
            for line in problems.lines {
                logger.error("reload refused, keeping the running policy", metadata: ["problem": "\(line)"])
            }
            hub.publish(DaemonEvent(.policy, "reload_refused", [
                "config": .string(configPath), "problems": .string(problems.lines.joined(separator: "\n")),
            ]))
        }
    }
}
