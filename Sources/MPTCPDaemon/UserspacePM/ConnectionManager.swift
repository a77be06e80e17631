import Logging
import Synchronization
import Metrics
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy
#if canImport(Glibc)
import Glibc
#endif

/// The userspace path manager's service: feeds `mptcp_pm` events and sock_diag
/// tables to the `ConnectionTracker` (which holds every decision and all state),
/// sends the commands it returns through `UserspacePathManaging`, settles each
/// outcome, and logs and publishes what happened.
/// `seed` (the retry jitter's) and `clock` are inputs so tests are deterministic.
///
/// Owned by the MPTCP event thread (`mptcpctld-event`), which alone touches its
/// state, with no lock: there it handles events (`handle`, at once, for latency)
/// and wake-ups (`timerFired`, when `millisecondsToWake` says so: the wake-up is
/// its poll timeout). The entry points called from other threads — the endpoint
/// thread (network changes, reloads, resyncs) and API requests — post their work
/// to `mailbox`, which the event thread polls beside its netlink socket, and
/// return once it has run there, under the `EventCause` current at the call.
/// Before the event thread takes the mailbox (and after it ends), entry points
/// run on their caller, one at a time: tests drive a manager that way.
final class ConnectionManager: @unchecked Sendable {
    /// Work for the owning thread (see above).
    let mailbox = Mailbox()
    var tracker: ConnectionTracker
    let kernel: any UserspacePathManaging
    let logger: Logger
    /// Milliseconds since an origin of the caller's choice (monotonic).
    let clock: @Sendable () -> Int
    private(set) var counters: [String: Int] = [:]
    /// Thread CPU time spent inside subflow-create requests (ns): the kernel's own
    /// connect work (SYN out, SYN-ACK in on the same CPU), which the in-kernel PM
    /// does in a kworker instead.
    var createNanoseconds: UInt64 = 0
    /// The namespace's MPTCP listeners, read when a server-side connection is decided
    /// (at most once per batch of events); nil when they could not be read.
    private var listeners: [Listener]?
    private var listenersFresh = false
    /// The listeners the daemon holds for the joins its announcements invite.
    private let announcementListeners: AnnouncementListenerSet

    /// Where the engine's decisions and the actions taken are published (`subscribe`, hooks).
    let hub: EventHub

    init(kernel: any UserspacePathManaging, namespace: NetworkNamespace, logger: Logger, policy: Policy,
         network: NetworkSnapshot, hub: EventHub, seed: UInt64 = .random(in: .min ... .max),
         clock: @escaping @Sendable () -> Int = ConnectionManager.monotonicMilliseconds()) {
        self.hub = hub
        self.kernel = kernel
        self.logger = logger
        self.tracker = ConnectionTracker(policy: policy, network: network, seed: seed)
        self.clock = clock
        announcementListeners = AnnouncementListenerSet(namespace: namespace, logger: logger, hub: hub)
    }

    /// Milliseconds since this call, from the monotonic clock.
    static func monotonicMilliseconds() -> @Sendable () -> Int {
        let start = ContinuousClock.now
        return {
            let d = ContinuousClock.now - start
            return Int(d.components.seconds) * 1000 + Int(d.components.attoseconds / 1_000_000_000_000_000)
        }
    }

    /// A new policy, network snapshot or health view (from the loop, each pass);
    /// the caller decides again.
    func update(policy: Policy, network: NetworkSnapshot, health: PathHealthView = .none) {
        onOwner { self.tracker.update(policy: policy, network: network, health: health) }
    }

    /// Runs `body` on the owning thread (at once when called there) and returns
    /// its result once it has run; the actions it publishes keep the caller's cause.
    private func onOwner<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
        let cause = EventHub.cause
        return mailbox.perform {
            let result = EventHub.$cause.withValue(cause, operation: body)
            self.connectionCount.store(self.tracker.connections.count, ordering: .relaxed)
            return result
        }
    }

    var now: Int { clock() }

    /// The connections managed now, as of the last call that ran: read without
    /// the mailbox, so `status` and `/metrics` (answered on the control event
    /// loop) never wait for the event thread.
    var count: Int { connectionCount.load(ordering: .relaxed) }
    private let connectionCount = Atomic<Int>(0)

    /// Marks (or, with `pinned` false, unmarks) a hand-made subflow of `token`,
    /// which the policy then leaves alone until it closes. False when the daemon
    /// does not manage that connection.
    @discardableResult
    func setManual(token: UInt32, local: IPAddress, remote: AddressAndPort, pinned: Bool) -> Bool {
        onOwner { self.tracker.setManual(token: token, local: local, remote: remote, pinned: pinned) }
    }

    /// The policy each managed connection was last decided under, by token.
    func policyNames() -> [UInt32: String] {
        onOwner { self.tracker.policyNames }
    }

    /// Lists every live MPTCP connection through sock_diag and manages it: at
    /// start-up (adoption) and after lost events (resynchronisation).
    func resync(reason: String) {
        onOwner { self.resyncNow(reason: reason) }
    }

    private func resyncNow(reason: String) {
        count("resyncs")
        let table: [Connection]
        do { table = try kernel.connectionTable() } catch {
            logger.error("cannot list connections", metadata: ["reason": "\(reason)", "error": "\(error)"])
            return
        }
        var addresses: [UInt32: Result<[Endpoint], MPTCPError>] = [:]
        for c in ConnectionTracker.adoptable(table) {
            do throws(MPTCPError) { addresses[c.token] = .success(try kernel.addresses(token: c.token)) } catch {
                addresses[c.token] = .failure(error)
                if !error.isUserspacePMNotSelected {
                    logger.debug("cannot list a connection's addresses", metadata: ["token": "\(formatToken(c.token))", "error": "\(error)"])
                }
            }
        }
        let adoption = tracker.adopt(table, addresses: addresses)
        let connections = tracker.connections.count
        if adoption.foreign > 0 {
            logger.warning("connections created under the in-kernel path manager exist; they stay with it until they close",
                           metadata: ["connections": "\(adoption.foreign)"])
        }
        logger.info("connections resynchronised", metadata: [
            "reason": "\(reason)", "connections": "\(connections)", "forgotten": "\(adoption.forgotten)",
        ])
        hub.publish(DaemonEvent(.resync, "connections", [
            "reason": .string(reason), "connections": .integer(Int64(connections)), "forgotten": .integer(Int64(adoption.forgotten)),
        ]))
        decideAllNow()
    }

    /// Decides for `tokens` at one instant; connections with a request past its
    /// deadline first have their subflows read again, so the engine sees the
    /// half-open subflow it must destroy. Where that read fails, no join times out.
    private func decide(_ tokens: some Collection<UInt32>) {
        let t = now
        let overdue = tracker.overdue(tokens, now: t)
        var unread: Set<UInt32> = []
        if !overdue.isEmpty {
            do { unread = tracker.refreshSubflows(overdue, from: try kernel.connectionTable()) } catch {
                logger.error("cannot list connections: timed-out joins stay pending until their subflows can be read",
                             metadata: ["error": "\(error)"])
                unread = overdue
            }
        }
        for token in tokens {
            let found = tracker.needsListeners(token) ? currentListeners() : nil
            guard let decided = tracker.decide(token, now: t, listeners: found, subflowsKnown: !unread.contains(token)) else { continue }
            report(decided)
            execute(decided)
        }
    }

    /// Applies a batch of events and decides for the connections they touched
    /// (on the event thread).
    func handle(_ notices: [EventNotice]) {
        onOwner { self.handleNow(notices) }
    }

    private func handleNow(_ notices: [EventNotice]) {
        var touched: Set<UInt32> = []
        var lost = false
        for notice in notices {
            switch notice {
            case .eventsLost: lost = true
            case .malformed(let why): logger.warning("malformed MPTCP event", metadata: ["detail": "\(why)"])
            case .event(let e):
                metric("mptcpctld_kernel_events_total", [("type", e.type.name)]).increment()
                let effect = tracker.apply(e, now: now)
                if effect.listenersChanged { listenersFresh = false }
                if effect.subflowEstablished { count("subflows_established") }
                if let failure = effect.failure { reportFailure(failure) }
                touched.formUnion(effect.touched)
            }
        }
        if lost {
            count("events_lost")
            logger.warning("MPTCP events were lost (receive buffer overrun); resynchronising through sock_diag",
                           metadata: ["losses": "\(counters["events_lost", default: 0])"])
            resyncNow(reason: "events lost")
            return
        }
        listenersFresh = false
        decide(touched)
        flushCreates()
        announcementListeners.release(tracker.context, connections: tracker.managedViews)
    }

    /// The counters, logged at shutdown (and read by scripts/bench/userspace-pm.py).
    func logStatistics() {
        onOwner {
            var metadata: Logger.Metadata = ["connections": "\(self.tracker.connections.count)",
                                             "subflow_create_cpu_us": "\(self.createNanoseconds / 1000)"]
            for (key, value) in self.counters { metadata[key] = "\(value)" }
            self.logger.notice("userspace path manager statistics", metadata: metadata)
        }
    }

    /// A new policy: announcement refusals are worth saying again.
    func policyChanged() {
        onOwner { self.tracker.policyChanged() }
    }

    private func currentListeners() -> [Listener]? {
        if !listenersFresh {
            listenersFresh = true
            do {
                listeners = announcementListeners.update(tracker.context, connections: tracker.managedViews,
                                                         found: try kernel.listenerTable())
            } catch {
                listeners = nil
                logger.error("cannot list MPTCP listeners: announcing nothing", metadata: ["error": "\(error)"])
            }
        }
        return listeners
    }

    /// Link or address changes and reloads: re-apply the policy everywhere.
    func decideAll() { onOwner { self.decideAllNow() } }

    private func decideAllNow() {
        listenersFresh = false
        decide(tracker.tokens)
        flushCreates()
        announcementListeners.release(tracker.context, connections: tracker.managedViews)
    }

    /// A wake-up is due (`millisecondsToWake` <= 0): decide for the connections whose time came.
    func timerFired() {
        onOwner {
            self.listenersFresh = false
            self.decide(self.tracker.due(self.now))
            self.flushCreates()
        }
    }

    /// In how many ms `timerFired` is due (0 or less: now); nil when no connection needs a wake-up.
    func millisecondsToWake() -> Int? {
        onOwner { self.tracker.nextWake().map { $0 - self.now } }
    }

    /// Counts `key` in the statistics and in the metrics (`mptcpctld_pm_KEY_total`).
    func count(_ key: String) {
        counters[key, default: 0] += 1
        metric("mptcpctld_pm_\(key)_total", []).increment()
    }

    /// swift-metrics counters, made once per label set (a registry lookup per
    /// event would cost more than the event).
    private var metricCounters: [String: Counter] = [:]

    private func metric(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        if let c = metricCounters[key] { return c }
        let c = Counter(label: label, dimensions: dimensions)
        metricCounters[key] = c
        return c
    }
}
