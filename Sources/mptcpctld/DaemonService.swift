import Foundation
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

/// Why the loop should run a pass; several may pile up while one runs.
struct Pending: OptionSet, Sendable {
    let rawValue: Int
    static let network = Pending(rawValue: 1)
    static let reload = Pending(rawValue: 2)
    static let resync = Pending(rawValue: 4)
    static let lost = Pending(rawValue: 8)
    static let retry = Pending(rawValue: 16)
    static let mptcp = Pending(rawValue: 32)
    static let timer = Pending(rawValue: 64)
}

/// Coalesces triggers: producers set bits and ring; the loop takes all bits at once.
final class Doorbell: Sendable {
    private let pending = Mutex<Pending>([])
    let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func ring(_ why: Pending) {
        pending.withLock { $0.formUnion(why) }
        continuation.yield()
    }

    func take() -> Pending { pending.withLock { p in defer { p = [] }; return p } }

    func close() { continuation.finish() }
}

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

    func run() async throws {
        // Subscribe before the first pass so no change between them is missed.
        let monitor = try NetworkMonitor(namespace: namespace)
        let watcher = NetworkWatcher(monitor: monitor, doorbell: doorbell, logger: logger)
        watcher.start()
        defer { watcher.join() }

        _ = reconciler.applySettings(logFound: true)
        if !reconciler.reconcile(trigger: "start") { doorbell.ring(.retry) }
        state.update { $0.owned = reconciler.owned }

        // The userspace path manager: events on a socket of their own, then adopt
        // every live connection so none is left unmanaged after a restart.
        var manager: ConnectionManager?
        var events: EventWatcher?
        if reconciler.policy.kernel.pathManager == "userspace" {
            var initial = NetworkSnapshot(links: [], addresses: [], defaultRoutes: [])
            var adopt = true
            do { initial = try reconciler.kernel.network.read() } catch {
                // The resync the loop runs next adopts them instead.
                logger.error("cannot read links and addresses: adoption postponed", metadata: ["error": "\(error)"])
                adopt = false
                doorbell.ring(.resync)
            }
            let m = ConnectionManager(kernel: reconciler.kernel, logger: logger, policy: reconciler.policy, network: initial,
                                      wakeLoop: { doorbell.ring(.mptcp) })
            let subscription = try EventSubscription(namespace: namespace, receiveBuffer: reconciler.policy.daemon.eventBuffer)
            // CREATED repeats in ESTABLISHED (the first event the manager acts on);
            // priority changes and closed listeners change nothing it decides.
            try subscription.ignore([.created, .subflowPriority, .listenerClosed])
            logger.info("listening to MPTCP events", metadata: ["receive_buffer": "\(subscription.receiveBufferSize)"])
            let w = EventWatcher(subscription: subscription, logger: logger) { m.handle($0) }
            w.start()
            if adopt { m.resync(reason: "start-up adoption") }
            manager = m
            events = w
            state.update { $0.manager = m }
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
            // Failed changes are retried with backoff (1 s doubling to 60 s), so a
            // persistent refusal is neither hammered nor logged every second.
            var retryDelay = 1
            var retryScheduled = false
            for await _ in doorbell.stream.cancelOnGracefulShutdown() {
                let why = doorbell.take()
                if why.isEmpty { continue }
                if why.contains(.retry) { retryScheduled = false }
                if why.contains(.reload) {
                    reload()
                    manager?.policyChanged()
                    resyncInterval.value.store(reconciler.policy.daemon.resyncInterval, ordering: .relaxed)
                }
                if why.contains(.lost) {
                    Counter(label: "mptcpctld_interface_notifications_lost_total").increment()
                    logger.warning("interface notifications were lost; re-reading everything")
                }
                let trigger = why.contains(.reload) ? "reload" : why.contains(.lost) ? "resync-after-loss"
                    : why.contains(.network) ? "network" : why.contains(.retry) ? "retry" : "resync"
                if let manager {
                    // MPTCP events are handled on the event thread; here: rtnetlink
                    // changes, reloads and resyncs re-apply the policy everywhere.
                    if !why.isSubset(of: [.mptcp, .timer]) {
                        do {
                            manager.update(policy: reconciler.policy, network: try reconciler.kernel.network.read())
                            if why.contains(.resync) { manager.resync(reason: "resync") } else { manager.decideAll() }
                        } catch {
                            logger.error("cannot read links and addresses", metadata: ["error": "\(error)"])
                        }
                    }
                    if why.contains(.timer) { manager.timerFired() }
                    // .mptcp: the event thread needs a wake-up sooner than the armed one.
                    if let delay = manager.rearm() {
                        group.addTask {
                            try? await Task.sleep(for: .milliseconds(delay))
                            doorbell.ring(.timer)
                        }
                    }
                    if why.isSubset(of: [.mptcp, .timer]) { continue }
                }
                let reconciled = reconciler.reconcile(trigger: trigger)
                state.update { $0.owned = reconciler.owned }
                if reconciled {
                    retryDelay = 1
                } else if !retryScheduled {
                    retryScheduled = true
                    let delay = retryDelay
                    retryDelay = min(retryDelay * 2, 60)
                    logger.notice("will retry", metadata: ["in_seconds": "\(delay)"])
                    group.addTask {
                        try? await Task.sleep(for: .seconds(delay))
                        doorbell.ring(.retry)
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
            logger.info("shutting down: removing the endpoints this daemon added")
            reconciler.removeOwned()
        case .keep:
            logger.info("shutting down: keeping endpoints (on_exit = keep)", metadata: ["owned": "\(reconciler.owned.count)"])
        }
    }

    /// SIGHUP: a valid file replaces the policy; an invalid one is logged and ignored.
    private func reload() {
        SystemdNotify.send("RELOADING=1")
        switch PolicyFile.load(path: configPath, namespace: namespace) {
        case .success(let policy):
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
            reconciler.replace(policy: policy)
            state.update {
                $0.policy = policy
                $0.loadedAt = Date().timeIntervalSince1970
                $0.reloads += 1
            }
            logger.notice("reloaded the policy", metadata: ["config": "\(configPath)", "interfaces": "\(policy.interfaces.count)"])
            _ = reconciler.applySettings(logFound: false)
        case .failure(let problems):
            for line in problems.lines {
                logger.error("reload refused, keeping the running policy", metadata: ["problem": "\(line)"])
            }
        }
    }
}

/// The resync interval, shared between the loop (which writes it on reload) and the timer task.
final class SharedInterval: Sendable {
    let value: Atomic<Int>
    init(_ seconds: Int) { value = Atomic(seconds) }
}

/// Reads rtnetlink notifications on a thread of its own (blocking reads stay off
/// the concurrency pool) and rings the doorbell for each batch.
final class NetworkWatcher: WatcherThread, @unchecked Sendable {
    private let monitor: NetworkMonitor
    private let doorbell: Doorbell

    init(monitor: NetworkMonitor, doorbell: Doorbell, logger: Logger) {
        self.monitor = monitor
        self.doorbell = doorbell
        super.init(what: "the interface watcher thread", name: "mptcpctld-link", logger: logger)
    }

    override func step() {
        do {
            let notices = try monitor.next(timeoutMilliseconds: 200)
            if notices.contains(.lost) { doorbell.ring(.lost) } else if !notices.isEmpty { doorbell.ring(.network) }
        } catch {
            logger.error("reading interface changes failed; retrying", metadata: ["error": "\(error)"])
            doorbell.ring(.lost)
            usleep(200_000)
        }
    }
}
