import Logging
import MPTCPKit
import MPTCPPolicy

/// Start-up and shutdown of the endpoint thread: the threads it owns, the
/// first pass, adoption, and `on_exit`.
extension EndpointLoop {
    /// Subscribes to interface changes and MPTCP events, applies the settings,
    /// runs the first pass and starts the userspace path manager. Throws when
    /// the MPTCP event socket the path manager needs cannot be made: start-up
    /// then stops with the kernel as it found it (no setting applied, no
    /// endpoint added, nothing for `on_exit` to give back).
    func startUp() throws {
        // Subscribe before the first pass so no change between them is missed.
        let monitor = try NetworkMonitor(namespace: namespace)
        let deaf = FaultInjection.ignoreLinkEvents
        if deaf { logger.warning("MPTCPCTLD_DEBUG_IGNORE_LINK_EVENTS=1: link and address changes are seen only on request") }
        let w = NetworkWatcher(monitor: monitor, doorbell: doorbell, logger: logger, deaf: deaf)
        w.start()
        watcher = w
        hooks?.start()
        // Links and addresses, read once for start-up's reconciliation, the
        // connection manager and, as last seen, for interface events.
        let startNetwork = Result { try kernel.network.read() }
        lastNetwork = try? startNetwork.get()
        let subscription = try subscribeToEvents()

        // Actions name what caused them (`EventCause`): here, start-up.
        let startCause = EventCause(trigger: "start")
        _ = reconciler.applySettings(logFound: true)
        // Source routing before the endpoints and the userspace path manager make their first subflows.
        let routed = hub.attributing(to: startCause) { reconcileRouting(network: lastNetwork, trigger: "start") }
        let reconciled = hub.attributing(to: startCause) { reconciler.reconcile(trigger: "start", network: lastNetwork) }
        if !reconciled || !routed { doorbell.ring(.retry) }
        state.update { $0.owned = reconciler.owned }
        startHealth()
        if policies.current.kernel.pathManager == "userspace", let subscription {
            startConnectionManager(subscription, network: startNetwork, cause: startCause)
        } else if let subscription {
            let names = InterfaceNames(namespace: namespace, countEvents: true)
            let lost = LostSubflowReporter(logger: logger)
            let hub = self.hub
            let e = EventWatcher(subscription: subscription, logger: logger) { notices in
                lost.note(notices)
                names.publish(notices, to: hub)
            }
            e.start()
            events = e
        }
    }

    /// The MPTCP event socket: required with the userspace path manager; with
    /// the in-kernel one, the events are read for `subscribe` and hooks (named
    /// only while someone listens), `mptcpctld_kernel_events_total` and the
    /// subflows the peer resets (`LostSubflowReporter`).
    private func subscribeToEvents() throws -> EventSubscription? {
        let namespace = self.namespace, eventBuffer = policies.current.daemon.eventBuffer
        func subscribe() throws -> EventSubscription {
            if FaultInjection.failEventSubscription {
                throw StoreError("cannot subscribe to MPTCP events: MPTCPCTLD_DEBUG_FAIL_EVENT_SUBSCRIPTION=1")
            }
            return try EventSubscription(namespace: namespace, receiveBuffer: eventBuffer)
        }
        if policies.current.kernel.pathManager == "userspace" {
            let s = try subscribe()
            // CREATED repeats in ESTABLISHED (the first event the manager acts on);
            // priority changes and closed listeners change nothing it decides.
            try s.ignore([.created, .subflowPriority, .listenerClosed])
            return s
        }
        do { return try subscribe() } catch {
            logger.error("cannot listen to MPTCP events: subscribers and hooks will not see them, nor the daemon the subflows the peer resets", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// The userspace path manager: events on a socket of their own, then adopt
    /// every live connection so none is left unmanaged after a restart.
    private func startConnectionManager(_ subscription: EventSubscription, network: Result<NetworkSnapshot, any Error>,
                                        cause: EventCause) {
        var initial = NetworkSnapshot(links: [], addresses: [], defaultRoutes: [])
        var adopt = true
        switch network {
        case .success(let network): initial = network
        case .failure(let error):
            // The resync the loop runs next adopts them instead.
            logger.error("cannot read links and addresses: adoption postponed", metadata: ["error": "\(error)"])
            adopt = false
            doorbell.ring(.resync)
        }
        let hub = self.hub
        let m = ConnectionManager(kernel: kernel.pathManager, namespace: kernel.namespace, logger: logger,
                                  policy: policies.current, network: initial, hub: hub)
        logger.info("listening to MPTCP events", metadata: ["receive_buffer": "\(subscription.receiveBufferSize)"])
        let names = InterfaceNames(namespace: namespace)
        // The event thread owns the manager: it runs its wake-ups (its poll
        // timeout) and what other threads post to its mailbox.
        let timers = EventWatcher.Timers(millisecondsToWake: { m.millisecondsToWake() },
                                         fire: { hub.attributing(to: EventCause(trigger: "timer")) { m.timerFired() } })
        let e = EventWatcher(subscription: subscription, logger: logger, timers: timers, mailbox: m.mailbox) { notices in
            // The kernel's events are published before the actions they cause.
            hub.attributing(to: EventCause(trigger: "kernel")) {
                names.publish(notices, to: hub)
                m.handle(notices)
            }
        }
        e.start()
        if adopt { hub.attributing(to: cause) { m.resync(reason: "start-up adoption") } }
        manager = m
        events = e
        state.update { $0.manager = m }
    }

    /// `on_exit = "remove"` for source routing: the links are read for the
    /// rp_filter restores (without them those stay recorded for the next run).
    private func removeRouting() {
        var network: NetworkSnapshot?
        do { network = try kernel.network.read() } catch {
            logger.error("cannot read links and addresses at exit; rp_filter values stay recorded for the next run",
                         metadata: ["error": "\(error)"])
        }
        routing.removeOwned(network: network)
    }

    /// Joins the health thread, the interface watcher, the MPTCP event reader and the hook runner.
    func stopThreads() {
        stopHealth()
        watcher?.join()
        events?.join()
        hooks?.join()
    }

    /// Graceful shutdown: the threads stop, then `on_exit` is applied.
    func shutDown() {
        stopHealth()
        watcher?.join()
        events?.join()
        manager?.logStatistics()
        SystemdNotify.send("STOPPING=1")
        switch policies.current.kernel.onExit {
        case .remove:
            logger.info("shutting down: removing the endpoints this daemon added and restoring the settings it changed")
            reconciler.removeOwned()
            reconciler.restoreSettings()
            removeRouting()
        case .keep:
            logger.info("shutting down: keeping endpoints (on_exit = keep)", metadata: [
                "owned": "\(reconciler.owned.count)", "changed_settings": "\(Reconciler.describe(reconciler.changedSettings))",
            ])
            if !routing.owned.isEmpty {
                logger.info("shutting down: keeping source routing (on_exit = keep)", metadata: [
                    "rules": "\(routing.owned.rules.count)", "routes": "\(routing.owned.routes.count)",
                    "rp_filter": "\(routing.owned.reversePathFilter.count)",
                ])
            }
        }
        hooks?.join()
    }
}
