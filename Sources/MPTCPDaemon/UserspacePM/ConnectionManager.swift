import NIOConcurrencyHelpers
import Logging
import Metrics
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The userspace path manager: tracks connections from `mptcp_pm` events,
/// asks the engine what each needs, and sends the commands.
/// Called from two threads: the event thread (`handle`, at once, for latency)
/// and the service's loop (network changes, reloads, timers). `lock` serialises
/// every entry point; the `locked…` methods assume it is held.
final class ConnectionManager: @unchecked Sendable {
    private struct Entry {
        var view: ConnectionView
        var memory = ConnectionMemory()
        var established = false
        /// Our own backup choice per local address (events carry the peer's).
        var wantedBackup: [AddressAndPort: Bool] = [:]
        var lastPolicy: ConnectionPolicy?
        /// Created under the in-kernel path manager: the kernel refuses userspace commands on it.
        var foreign = false
        /// When a pending creation expires, a retry is due or failback is (ms), if ever.
        var wake: Int?
        /// Subflows this daemon closed (destroyed, or withdrawn with their address)
        /// whose SUB_CLOSED has not come yet: their close (ECONNRESET) is no failure.
        var closing: Set<ClosingSubflow> = []
    }

    /// A subflow by its local address and port and its peer's address: SUB_CLOSED
    /// of a join that never established carries remote port 0.
    private struct ClosingSubflow: Hashable {
        var local: AddressAndPort
        var remote: IPAddress
    }

    /// The kernel's answer to a command on a connection that no longer exists.
    static func isGone(_ error: any Error) -> Bool {
        (error as? MPTCPError)?.kernelMessage == "invalid token"
    }

    /// The kernel's answer to a subflow request before the connection is fully established.
    static func isNotYetEstablished(_ error: any Error) -> Bool {
        (error as? MPTCPError)?.errno == ENOTCONN
    }

    /// The kernel's answer to a userspace-PM command on a connection of the in-kernel PM.
    static func isOtherManager(_ error: any Error) -> Bool {
        (error as? MPTCPError)?.isUserspacePMNotSelected ?? false
    }

    private let lock = NIOLock()
    private var connections: [UInt32: Entry] = [:]
    /// The policy and network every decision uses, with their shared work done once.
    private var context: ConnectionEngine.Context
    /// Due times (ms) of per-connection wake-ups, lazily invalidated: an item counts
    /// only while it equals its entry's `wake`.
    private var timers = TimerHeap()
    /// The wake-up the loop has a timer for.
    private var armed: Int?
    /// Rung when a wake-up earlier than `armed` appears on the event thread.
    private let wakeLoop: @Sendable () -> Void
    private let kernel: KernelHandle
    private let logger: Logger
    private let start = ContinuousClock.now
    /// Retry jitter: a fast generator seeded once (no getrandom per decision).
    private var jitter = Jitter()
    private(set) var counters: [String: Int] = [:]
    /// Thread CPU time spent inside subflow-create requests (ns): the kernel's own
    /// connect work (SYN out, SYN-ACK in on the same CPU), which the in-kernel PM
    /// does in a kworker instead.
    private var createNanoseconds: UInt64 = 0
    /// The namespace's MPTCP listeners, read when a server-side connection is decided
    /// (at most once per batch of events); nil when they could not be read.
    private var listeners: [Listener]?
    private var listenersFresh = false
    /// The listeners the daemon holds for the joins its announcements invite.
    private lazy var announcementListeners = AnnouncementListenerSet(namespace: kernel.namespace, logger: logger)
    /// "address:port" already warned about as unannounceable (cleared on reload).
    private var refusedWarned: Set<String> = []
    /// Creations decided and not yet sent: every entry point that decides sends
    /// them together before it returns (`flushCreates`).
    private var queuedCreates: [QueuedCreate] = []

    private struct QueuedCreate {
        var request: PathManager.SubflowRequest
        var slot: SubflowSlot
        var reason: String
        var policy: ConnectionPolicy
        /// The connection's memory before the decision, restored if it turns out not established.
        var previousMemory: ConnectionMemory
    }

    /// Where the engine's decisions and the actions taken are published (`subscribe`, hooks).
    let hub: EventHub

    init(kernel: KernelHandle, logger: Logger, policy: Policy, network: NetworkSnapshot, hub: EventHub,
         wakeLoop: @escaping @Sendable () -> Void) {
        self.hub = hub
        self.kernel = kernel
        self.logger = logger
        self.context = ConnectionEngine.Context(policy: policy, network: network)
        self.wakeLoop = wakeLoop
    }

    /// A new policy or network snapshot (from the loop); the caller decides again.
    func update(policy: Policy, network: NetworkSnapshot) {
        lock.withLock { context = ConnectionEngine.Context(policy: policy, network: network) }
    }

    private var policy: Policy { context.policy }
    private var network: NetworkSnapshot { context.network }

    var now: Int {
        let d = ContinuousClock.now - start
        return Int(d.components.seconds) * 1000 + Int(d.components.attoseconds / 1_000_000_000_000_000)
    }

    var count: Int { lock.withLock { connections.count } }

    /// Marks (or, with `pinned` false, unmarks) a hand-made subflow of `token`,
    /// which the policy then leaves alone until it closes. False when the daemon
    /// does not manage that connection.
    @discardableResult
    func setManual(token: UInt32, local: IPAddress, remote: AddressAndPort, pinned: Bool) -> Bool {
        lock.withLock {
            guard connections[token] != nil else { return false }
            let key = ConnectionMemory.ManualSubflow(local: local, remote: remote)
            if pinned { connections[token]?.memory.manual.insert(key) } else { connections[token]?.memory.manual.remove(key) }
            return true
        }
    }

    /// The policy each managed connection was last decided under, by token.
    func policyNames() -> [UInt32: String] {
        lock.withLock { connections.compactMapValues { $0.lastPolicy?.name } }
    }

    /// Lists every live MPTCP connection through sock_diag and manages it: at
    /// start-up (adoption) and after lost events (resynchronisation).
    func resync(reason: String) {
        lock.withLock { lockedResync(reason: reason) }
    }

    private func lockedResync(reason: String) {
        count("resyncs")
        let table: [Connection]
        do { table = try ConnectionTable.read(namespace: kernel.namespace) } catch {
            logger.error("cannot list connections", metadata: ["reason": "\(reason)", "error": "\(error)"])
            return
        }
        var seen: Set<UInt32> = []
        // Only connections in ESTABLISHED: one still connecting announces itself with
        // its events, and a closing one (its addresses may read as zero) is of no use.
        // One that fell back to TCP (after SYN+MP_CAPABLE drops, syn_retrans_before_tcp_fallback)
        // has no token left and can never take a subflow.
        for c in table where c.state == 1 && c.remotePort != 0 && !c.remoteAddress.isUnspecified && c.info.flags & 1 == 0 {
            seen.insert(c.token)
            var entry = connections[c.token] ?? Entry(view: ConnectionView(
                token: c.token, side: c.side == .server ? .server : .client,
                local: AddressAndPort(address: c.localAddress, port: c.localPort),
                remote: AddressAndPort(address: c.remoteAddress, port: c.remotePort),
                initialInterface: network.addresses.first { $0.address == c.localAddress }?.interfaceIndex))
            entry.established = true
            entry.view.subflows = Self.subflowViews(c)
            Self.pruneClosing(&entry, c)
            do {
                for e in try kernel.pathManager.addresses(token: c.token) {
                    entry.view.localIDs[e.address] = e.id
                    if e.flags.contains(.signal) { entry.view.announcedLocal[e.address] = e.id }
                }
            } catch {
                if Self.isOtherManager(error) { entry.foreign = true } else {
                    logger.debug("cannot list a connection's addresses", metadata: ["token": "\(formatToken(c.token))", "error": "\(error)"])
                }
            }
            connections[c.token] = entry
        }
        let gone = connections.keys.filter { !seen.contains($0) }
        for token in gone { connections[token] = nil }
        let foreign = connections.values.filter(\.foreign).count
        if foreign > 0 {
            logger.warning("connections created under the in-kernel path manager exist; they stay with it until they close",
                           metadata: ["connections": "\(foreign)"])
        }
        logger.info("connections resynchronised", metadata: [
            "reason": "\(reason)", "connections": "\(connections.count)", "forgotten": "\(gone.count)",
        ])
        hub.publish(DaemonEvent(.resync, "connections", [
            "reason": .string(reason), "connections": .integer(Int64(connections.count)), "forgotten": .integer(Int64(gone.count)),
        ]))
        lockedDecideAll()
    }

    /// The subflows the engine weighs: established ones and joins under way (which
    /// hold their slot until `join_timeout`). Closing ones (FIN_WAIT over a dead
    /// link) are neither paths nor requests any more.
    private static func subflowViews(_ c: Connection) -> [SubflowView] {
        c.subflows.filter { $0.carriesTraffic || $0.state.isHandshaking }.map {
            SubflowView(local: AddressAndPort(address: $0.localAddress, port: $0.localPort),
                        remote: AddressAndPort(address: $0.remoteAddress, port: $0.remotePort),
                        localID: $0.localID, backup: $0.backupLocal, interfaceIndex: $0.interfaceIndex, state: $0.state)
        }
    }

    /// Our closes whose subflow sock_diag no longer shows in any state: their
    /// SUB_CLOSED came unseen (events lost) or never comes; kept, they would excuse
    /// the failure of a later join that happens to reuse the local port.
    private static func pruneClosing(_ entry: inout Entry, _ c: Connection) {
        entry.closing = entry.closing.filter { closing in
            c.subflows.contains {
                $0.localAddress == closing.local.address && $0.localPort == closing.local.port && $0.remoteAddress == closing.remote
            }
        }
    }

    /// Reads the subflows of `tokens` from sock_diag (one dump): events tell when a
    /// join succeeds or fails, never that it is still half-open, nor the local port
    /// its destruction needs. Done only for connections with a request past its
    /// `join_timeout`, just before deciding them. Returns the tokens whose subflows
    /// could not be read (all of them when the dump failed).
    private func rereadSubflows(_ tokens: Set<UInt32>) -> Set<UInt32> {
        let table: [Connection]
        do { table = try ConnectionTable.read(namespace: kernel.namespace) } catch {
            logger.error("cannot list connections: timed-out joins stay pending until their subflows can be read",
                         metadata: ["error": "\(error)"])
            return tokens
        }
        var unread = tokens
        for c in table where tokens.contains(c.token) {
            guard var entry = connections[c.token] else { continue }
            entry.view.subflows = Self.subflowViews(c)
            Self.pruneClosing(&entry, c)
            connections[c.token] = entry
            unread.remove(c.token)
        }
        return unread
    }

    /// Decides for `tokens` at one instant; connections with a request past its
    /// deadline first have their subflows read again, so the engine sees the
    /// half-open subflow it must destroy. Where that read fails, no join times out.
    private func decide(_ tokens: some Collection<UInt32>) {
        let t = now
        let overdue = Set(tokens.filter { token in
            connections[token].map { e in e.established && !e.foreign && e.memory.pending.values.contains { $0 <= t } } ?? false
        })
        let unread = overdue.isEmpty ? [] : rereadSubflows(overdue)
        for token in tokens { decide(token, now: t, subflowsKnown: !unread.contains(token)) }
    }

    /// Applies a batch of events and decides for the connections they touched
    /// (on the event thread); rings the loop when a timer is needed sooner.
    func handle(_ notices: [EventNotice]) {
        let sooner = lock.withLock { () -> Bool in
            lockedHandle(notices)
            guard let next = lockedNextWake() else { return false }
            return armed.map { next < $0 } ?? true
        }
        if sooner { wakeLoop() }
    }

    private func lockedHandle(_ notices: [EventNotice]) {
        var touched: Set<UInt32> = []
        var lost = false
        for notice in notices {
            switch notice {
            case .eventsLost: lost = true
            case .malformed(let why): logger.warning("malformed MPTCP event", metadata: ["detail": "\(why)"])
            case .event(let e) where e.type == .listenerCreated || e.type == .listenerClosed:
                metric("mptcpctld_kernel_events_total", [("type", e.type.name)]).increment()
                // Where a join can land changed: server connections on that port decide again.
                listenersFresh = false
                for (token, entry) in connections where entry.view.side == .server && entry.view.local.port == e.localPort {
                    touched.insert(token)
                }
            case .event(let e):
                metric("mptcpctld_kernel_events_total", [("type", e.type.name)]).increment()
                if let t = apply(e) { touched.insert(t) }
            }
        }
        if lost {
            count("events_lost")
            logger.warning("MPTCP events were lost (receive buffer overrun); resynchronising through sock_diag",
                           metadata: ["losses": "\(counters["events_lost", default: 0])"])
            lockedResync(reason: "events lost")
            return
        }
        listenersFresh = false
        decide(touched)
        flushCreates()
        announcementListeners.release(context, connections: managedViews)
    }

    /// The connections the policy decides for (announcements need listeners for them).
    private var managedViews: [ConnectionView] { connections.values.filter { $0.established && !$0.foreign }.map(\.view) }

    /// The counters, logged at shutdown (and read by scripts/bench-userspace-pm.py).
    func logStatistics() {
        lock.withLock {
            var metadata: Logger.Metadata = ["connections": "\(connections.count)",
                                             "subflow_create_cpu_us": "\(createNanoseconds / 1000)"]
            for (key, value) in counters { metadata[key] = "\(value)" }
            logger.notice("userspace path manager statistics", metadata: metadata)
        }
    }

    /// A new policy: announcement refusals are worth saying again.
    func policyChanged() { lock.withLock { refusedWarned = [] } }

    private func currentListeners() -> [Listener]? {
        if !listenersFresh {
            listenersFresh = true
            do {
                listeners = announcementListeners.update(context, connections: managedViews,
                                                         found: try ConnectionTable.listeners(namespace: kernel.namespace))
            } catch {
                listeners = nil
                logger.error("cannot list MPTCP listeners: announcing nothing", metadata: ["error": "\(error)"])
            }
        }
        return listeners
    }

    private func apply(_ e: Event) -> UInt32? {
        guard let token = e.token else { return nil }
        switch e.type {
        case .created, .established:
            if connections[token] == nil, let l = e.localAddress, let r = e.remoteAddress {
                var view = ConnectionView(token: token, side: e.isServerSide ? .server : .client,
                                          local: AddressAndPort(address: l, port: e.localPort ?? 0),
                                          remote: AddressAndPort(address: r, port: e.remotePort ?? 0),
                                          initialInterface: network.addresses.first { $0.address == l }?.interfaceIndex)
                view.denyJoinID0 = e.denyJoinID0
                view.subflows = [SubflowView(local: view.local, remote: view.remote, localID: 0, backup: false,
                                             interfaceIndex: view.initialInterface ?? 0)]
                connections[token] = Entry(view: view)
            }
            if e.type == .established { connections[token]?.established = true }
            return e.type == .established ? token : nil
        case .closed:
            connections[token] = nil
            return nil
        case .announced:
            guard let a = e.remoteAddress, let id = e.remoteID else { return nil }
            connections[token]?.view.announced.removeAll { $0.id == id }
            connections[token]?.view.announced.append(AnnouncedAddress(id: id, address: a, port: e.remotePort ?? 0))
            return token
        case .removed:
            connections[token]?.view.announced.removeAll { $0.id == e.remoteID }
            return token
        case .subflowEstablished:
            guard let l = e.localAddress, let r = e.remoteAddress else { return nil }
            let s = SubflowView(local: AddressAndPort(address: l, port: e.localPort ?? 0),
                                remote: AddressAndPort(address: r, port: e.remotePort ?? 0),
                                localID: e.localID ?? 0, backup: false, interfaceIndex: e.interfaceIndex ?? 0)
            guard var entry = connections[token] else { return nil }
            entry.view.subflows.removeAll { $0.local == s.local && $0.remote == s.remote }
            // Our own backup choice: the event's backup bit is the peer's.
            let slot = entry.memory.pending.keys.first { $0.local == l && $0.remote == r && $0.remotePort == s.remote.port }
            var made = s
            if let slot { entry.memory.pending[slot] = nil; entry.memory.failures[slot] = nil }
            made.backup = entry.wantedBackup[AddressAndPort(address: l, port: 0)] ?? false
            entry.view.subflows.append(made)
            if l != entry.view.local.address, let id = e.localID { entry.view.localIDs[l] = id }
            connections[token] = entry
            count("subflows_established")
            return token
        case .subflowClosed:
            guard var entry = connections[token], let l = e.localAddress, let r = e.remoteAddress else { return nil }
            let local = AddressAndPort(address: l, port: e.localPort ?? 0)
            // Ours (destroyed, withdrawn) is no failure; otherwise the engine tells a
            // failed join (and whose) from a path that closed, before it leaves the view.
            let failed = entry.closing.remove(ClosingSubflow(local: local, remote: r)) != nil ? nil
                : ConnectionEngine.failedSlot(local: local, remote: AddressAndPort(address: r, port: e.remotePort ?? 0),
                                              error: Int32(e.error ?? 0), connection: entry.view, memory: entry.memory)
            entry.view.subflows.removeAll { $0.local == local && $0.remote.address == r }
            if let slot = failed {
                let policy = entry.lastPolicy ?? .builtInDefault
                let t = now
                ConnectionEngine.recordFailure(slot, policy: policy, memory: &entry.memory, now: t, jitter: jitter.unit())
                count("subflows_failed")
                if let f = entry.memory.failures[slot] {
                    logger.info("subflow failed", metadata: [
                        "token": "\(formatToken(token))", "local": "\(local)", "remote": "\(r)", "error": "\(e.error ?? 0)",
                        "attempt": "\(f.attempts)", "retry_in_ms": "\(f.nextAttempt - t)",
                    ])
                }
            }
            connections[token] = entry
            return token
        default:
            return nil
        }
    }

    /// Link or address changes and reloads: re-apply the policy everywhere.
    func decideAll() { lock.withLock { lockedDecideAll() } }

    private func lockedDecideAll() {
        listenersFresh = false
        decide(Array(connections.keys))
        flushCreates()
        announcementListeners.release(context, connections: managedViews)
    }

    /// The loop's timer went off: decide for the connections whose wake-up is due.
    func timerFired() {
        lock.withLock {
            armed = nil
            let t = now
            listenersFresh = false
            var due: [UInt32] = []
            while let (at, token) = timers.min, at <= t {
                timers.pop()
                if let e = connections[token], e.wake == at { due.append(token) }
            }
            decide(due)
            flushCreates()
        }
    }

    /// When the loop should call `timerFired` next, in ms from now, if sooner than
    /// the timer it has; nil when that one will do (or none is needed).
    func rearm() -> Int? {
        lock.withLock {
            guard let next = lockedNextWake(), armed.map({ next < $0 }) ?? true else { return nil }
            armed = next
            return max(1, next - now)
        }
    }

    private func lockedNextWake() -> Int? {
        while let (due, token) = timers.min {
            if let e = connections[token], e.wake == due { return due }
            timers.pop()
        }
        return nil
    }

    /// An entry's next wake-up, from its memory: exhausted retries never wake.
    private func schedule(_ token: UInt32, _ entry: inout Entry) {
        let m = entry.memory
        let retry = (entry.lastPolicy ?? .builtInDefault).retry
        var wake = m.pending.values.min()
        // A retry time already past was acted on by the decision just made (or its
        // slot is pending again, or no longer wanted): it must not hide a later deadline.
        let t = now
        for f in m.failures.values where f.nextAttempt > t && retry.allowsRetry(after: f.attempts) {
            wake = min(wake ?? f.nextAttempt, f.nextAttempt)
        }
        if let f = m.failbackAt { wake = min(wake ?? f, f) }
        if wake != entry.wake, let wake { timers.push(wake, token) }
        entry.wake = wake
    }

    private func decide(_ token: UInt32, now: Int, subflowsKnown: Bool) {
        guard var entry = connections[token], entry.established, !entry.foreign else { return }
        let previousMemory = entry.memory
        defer {
            if var e = connections[token] {
                schedule(token, &e)
                connections[token] = e
            }
        }
        let decision = ConnectionEngine.decide(context, connection: entry.view, memory: entry.memory,
                                               now: now, jitter: jitter.unit(),
                                               listeners: entry.view.side == .server ? currentListeners() : nil,
                                               subflowsKnown: subflowsKnown)
        for refusal in decision.refusedAnnouncements {
            let key = "\(AddressAndPort(address: refusal.address, port: entry.view.local.port))"
            let metadata: Logger.Metadata = ["token": "\(formatToken(token))", "address": "\(key)", "reason": "\(refusal.reason)"]
            if refusedWarned.insert(key).inserted {
                logger.warning("not announcing an address", metadata: metadata)
            } else {
                logger.debug("not announcing an address", metadata: metadata)
            }
            count("announcements_refused")
        }
        entry.memory = decision.memory
        entry.lastPolicy = decision.policy
        for timeout in decision.joinTimeouts {
            // A failure like a refused join: counted, logged with its attempt and backoff.
            count("subflows_failed")
            count("joins_timed_out")
            let f = decision.memory.failures[timeout.slot]
            logger.info("subflow failed", metadata: [
                "token": "\(formatToken(token))", "local": "\(timeout.subflow.map { "\($0.local)" } ?? "\(timeout.slot.local)")",
                "remote": "\(AddressAndPort(address: timeout.slot.remote, port: timeout.slot.remotePort))",
                "error": "join timed out", "timeout_ms": "\(decision.policy.retry.joinTimeoutMilliseconds)",
                "attempt": "\(f?.attempts ?? 0)", "retry_in_ms": "\((f?.nextAttempt ?? now) - now)",
            ])
        }
        logger.trace("decided", metadata: ["token": "\(formatToken(token))", "side": "\(entry.view.side)",
                                           "policy": "\(decision.policy.name)", "actions": "\(decision.actions.count)"])
        for event in decision.events {
            logger.notice("\(event)", metadata: ["token": "\(formatToken(token))", "policy": "\(decision.policy.name)"])
            let type = event.hasPrefix("promoted") ? "promoted" : event.hasPrefix("demoted") ? "demoted" : "handover"
            count(type == "promoted" ? "promotions" : type == "demoted" ? "demotions" : "handovers")
            hub.publish(DaemonEvent(.action, type, ["token": .string(formatToken(token)), "policy": .string(decision.policy.name),
                                                    "reason": .string(event)]))
        }
        var gone = false
        actions: for action in decision.actions {
            switch action {
            case .create(let slot, let id, let index, let backup, let reason):
                // Sent with the other creations of this batch of events, in one datagram.
                entry.wantedBackup[AddressAndPort(address: slot.local, port: 0)] = backup
                let local = Endpoint(id: id, address: slot.local, flags: backup ? .backup : [], interfaceIndex: index)
                queuedCreates.append(QueuedCreate(
                    request: .init(token: token, local: local, remote: AddressAndPort(address: slot.remote, port: slot.remotePort)),
                    slot: slot, reason: reason, policy: decision.policy, previousMemory: previousMemory))
            case .destroy(let s, let reason):
                do {
                    try kernel.pathManager.destroySubflow(token: token, local: s.local, remote: s.remote)
                    entry.view.subflows.removeAll { $0 == s }
                    entry.closing.insert(ClosingSubflow(local: s.local, remote: s.remote.address))
                    logger.info("destroyed subflow", metadata: [
                        "token": "\(formatToken(token))", "local": "\(s.local)", "remote": "\(s.remote)", "reason": "\(reason)",
                    ])
                    publishAction("subflow_destroyed", token, decision.policy, reason, [
                        "local_address": .string(s.local.address.description), "local_port": .integer(Int64(s.local.port)),
                        "remote_address": .string(s.remote.address.description), "remote_port": .integer(Int64(s.remote.port)),
                    ])
                } catch {
                    if Self.isGone(error) { gone = true; break actions }
                    if error.isNoSuchSubflow {
                        // Closed meanwhile: its SUB_CLOSED, if still queued, is no failure.
                        entry.view.subflows.removeAll { $0 == s }
                        entry.closing.insert(ClosingSubflow(local: s.local, remote: s.remote.address))
                        logger.debug("subflow already gone", metadata: ["token": "\(formatToken(token))", "error": "\(error)"])
                    } else {
                        // Still there: a timed-out join keeps its slot (no second join beside it).
                        if let timeout = decision.joinTimeouts.first(where: { $0.subflow == s }) {
                            ConnectionEngine.destroyFailed(timeout, policy: decision.policy, memory: &entry.memory, now: now)
                        }
                        logger.warning("kernel refused to destroy a subflow", metadata: [
                            "token": "\(formatToken(token))", "local": "\(s.local)", "remote": "\(s.remote)", "error": "\(error)",
                        ])
                    }
                }
            case .removeAddress(let id, let address, let subflows, let reason):
                // RM_ADDR travels over a surviving subflow so the peer stops using the
                // dead path at once; the local subflows are closed explicitly (REMOVE
                // alone leaves them established on 6.18).
                do {
                    try kernel.pathManager.remove(token: token, localID: id)
                    count("addresses_withdrawn")
                } catch {
                    if Self.isGone(error) { gone = true; break actions }
                    logger.debug("nothing to withdraw", metadata: ["token": "\(formatToken(token))", "local_id": "\(id)", "error": "\(error)"])
                }
                var alive: [SubflowView] = []
                for s in subflows {
                    do {
                        try kernel.pathManager.destroySubflow(token: token, local: s.local, remote: s.remote)
                        entry.closing.insert(ClosingSubflow(local: s.local, remote: s.remote.address))
                    } catch {
                        if Self.isGone(error) { gone = true; break actions }
                        if error.isNoSuchSubflow {
                            // Closed with its address (or before): its SUB_CLOSED may still be queued.
                            entry.closing.insert(ClosingSubflow(local: s.local, remote: s.remote.address))
                            logger.debug("subflow already gone", metadata: ["token": "\(formatToken(token))", "local": "\(s.local)", "error": "\(error)"])
                        } else {
                            // Still there: it stays in the view, so the next decision withdraws it again.
                            alive.append(s)
                            logger.warning("kernel refused to destroy a subflow", metadata: [
                                "token": "\(formatToken(token))", "local": "\(s.local)", "remote": "\(s.remote)", "error": "\(error)",
                            ])
                        }
                    }
                }
                logger.info("withdrew address", metadata: [
                    "token": "\(formatToken(token))", "address": "\(address)", "local_id": "\(id)",
                    "subflows": "\(subflows.count)", "reason": "\(reason)",
                ])
                publishAction("address_withdrawn", token, decision.policy, reason, [
                    "local_address": .string(address.description), "local_id": .integer(Int64(id)),
                ])
                entry.view.subflows.removeAll { subflows.contains($0) && !alive.contains($0) }
                entry.view.announcedLocal[address] = nil
            case .announce(let id, let address, let port, let index, let reason):
                do {
                    try kernel.pathManager.announce(token: token, address: Endpoint(id: id, address: address, port: port, flags: .signal,
                                                                                    interfaceIndex: index))
                    entry.view.announcedLocal[address] = id
                    count("addresses_announced")
                    logger.debug("announced address", metadata: [
                        "token": "\(formatToken(token))", "address": "\(address)", "local_id": "\(id)", "reason": "\(reason)",
                    ])
                    publishAction("address_announced", token, decision.policy, reason, [
                        "local_address": .string(address.description), "local_id": .integer(Int64(id)),
                    ])
                } catch {
                    if Self.isGone(error) { gone = true; break actions }
                    // Not retried until something changes: the memory says it was tried.
                    entry.view.announcedLocal[address] = id
                    logger.warning("kernel refused an announcement", metadata: [
                        "token": "\(formatToken(token))", "address": "\(address)", "local_id": "\(id)", "error": "\(error)",
                    ])
                }
            case .setBackup(let s, let backup, let reason):
                do {
                    try kernel.pathManager.setSubflowBackup(token: token, local: s.local, remote: s.remote, backup: backup)
                    if let i = entry.view.subflows.firstIndex(of: s) { entry.view.subflows[i].backup = backup }
                    entry.wantedBackup[AddressAndPort(address: s.local.address, port: 0)] = backup
                    logger.info("set subflow priority", metadata: [
                        "token": "\(formatToken(token))", "local": "\(s.local)", "backup": "\(backup)", "reason": "\(reason)",
                    ])
                    publishAction("subflow_priority_set", token, decision.policy, reason, [
                        "local_address": .string(s.local.address.description), "local_port": .integer(Int64(s.local.port)),
                        "remote_address": .string(s.remote.address.description), "remote_port": .integer(Int64(s.remote.port)),
                        "backup": .bool(backup),
                    ])
                } catch {
                    if Self.isGone(error) { gone = true; break actions }
                    // Not asked again on every event of this connection: the view takes
                    // the wanted priority, and the subflow's next change is decided afresh.
                    if let i = entry.view.subflows.firstIndex(of: s) { entry.view.subflows[i].backup = backup }
                    entry.wantedBackup[AddressAndPort(address: s.local.address, port: 0)] = backup
                    count("priority_changes_refused")
                    logger.warning("kernel refused a priority change", metadata: [
                        "token": "\(formatToken(token))", "local": "\(s.local)", "backup": "\(backup)", "error": "\(error)",
                    ])
                }
            }
        }
        if gone {
            // Closed meanwhile (its CLOSED event is still queued, or was lost).
            connections[token] = nil
            count("connections_gone")
            logger.debug("connection gone", metadata: ["token": "\(formatToken(token))", "while": "acting on it"])
            return
        }
        connections[token] = entry
    }

    /// Sends the creations queued by `decide` (one datagram per 64) and applies
    /// each outcome as a single request's would have been: a connection not yet
    /// established waits for its event, one of the in-kernel PM is left alone, a
    /// gone one is forgotten, any other refusal is retried with backoff.
    private func flushCreates() {
        guard !queuedCreates.isEmpty else { return }
        let queued = queuedCreates
        queuedCreates = []
        // Tests close a connection between the decision and the command here.
        FaultInjection.pause(before: "creating subflows", logger: logger, [
            "tokens": "\(Set(queued.map { formatToken($0.request.token) }).sorted().joined(separator: ","))",
            "subflows": "\(queued.count)",
        ])
        count("create_batches")
        let before = threadCPUNanoseconds()
        let results: [Result<Void, MPTCPError>]
        do { results = try kernel.pathManager.createSubflows(queued.map(\.request)) } catch {
            // The socket failed: whether the kernel acted is unknown. Each counts as
            // refused and is retried; the events say what exists meanwhile.
            results = Array(repeating: .failure(error), count: queued.count)
        }
        createNanoseconds &+= threadCPUNanoseconds() &- before
        var settled: Set<UInt32> = []
        var touched: Set<UInt32> = []
        for (q, result) in zip(queued, results) {
            let token = q.request.token
            guard !settled.contains(token), var entry = connections[token] else { continue }
            touched.insert(token)
            switch result {
            case .success:
                if q.request.local.id != 0 { entry.view.localIDs[q.slot.local] = q.request.local.id }
                count("subflows_created")
                // One that failed (refused, closed, or its join timed out) and is asked for again.
                if let f = q.previousMemory.failures[q.slot] {
                    count("subflows_recreated")
                    logger.info("retrying subflow", metadata: [
                        "token": "\(formatToken(token))", "local": "\(q.slot.local)", "remote": "\(q.request.remote)",
                        "retry": "\(f.attempts)", "of": "\(max(1, q.policy.retry.attempts))",
                    ])
                }
                logger.debug("creating subflow", metadata: [
                    "token": "\(formatToken(token))", "local": "\(q.slot.local)", "local_id": "\(q.request.local.id)",
                    "remote": "\(q.request.remote)", "backup": "\(q.request.local.flags.contains(.backup))", "reason": "\(q.reason)",
                ])
                publishAction("subflow_requested", token, q.policy, q.reason, [
                    "local_address": .string(q.slot.local.description), "local_id": .integer(Int64(q.request.local.id)),
                    "remote_address": .string(q.request.remote.address.description), "remote_port": .integer(Int64(q.request.remote.port)),
                    "backup": .bool(q.request.local.flags.contains(.backup)),
                ])
            case .failure(let error) where Self.isNotYetEstablished(error):
                // Adopted from sock_diag before MPTCP is fully established (no data
                // acked yet): wait for its ESTABLISHED event; nothing failed.
                settled.insert(token)
                entry.memory = q.previousMemory
                entry.established = false
                count("adopted_before_established")
                logger.debug("not fully established yet: waiting for its event", metadata: ["token": "\(formatToken(token))"])
            case .failure(let error) where Self.isOtherManager(error):
                settled.insert(token)
                entry.foreign = true
                logger.warning("a connection of the in-kernel path manager: left to it", metadata: [
                    "token": "\(formatToken(token))", "error": "\(error)",
                ])
            case .failure(let error) where Self.isGone(error):
                // Closed meanwhile (its CLOSED event is still queued, or was lost).
                settled.insert(token)
                connections[token] = nil
                count("connections_gone")
                logger.debug("connection gone", metadata: ["token": "\(formatToken(token))", "while": "creating subflows"])
                continue
            case .failure(let error):
                ConnectionEngine.recordFailure(q.slot, policy: q.policy, memory: &entry.memory, now: now, jitter: jitter.unit())
                logger.warning("kernel refused a subflow", metadata: [
                    "token": "\(formatToken(token))", "local": "\(q.slot.local)", "remote": "\(q.request.remote)", "error": "\(error)",
                ])
                publishAction("subflow_refused", token, q.policy, q.reason, [
                    "local_address": .string(q.slot.local.description), "remote_address": .string(q.request.remote.address.description),
                    "remote_port": .integer(Int64(q.request.remote.port)), "error": .string(error.description),
                ])
            }
            connections[token] = entry
        }
        for token in touched {
            guard var e = connections[token] else { continue }
            schedule(token, &e)
            connections[token] = e
        }
    }

    /// Publishes what was done to `token` and why (nothing to build without subscribers).
    private func publishAction(_ type: String, _ token: UInt32, _ policy: ConnectionPolicy, _ reason: String,
                               _ fields: @autoclosure () -> [String: JSONValue]) {
        guard hub.isObserved else { return }
        var f = fields()
        f["token"] = .string(formatToken(token))
        f["policy"] = .string(policy.name)
        f["reason"] = .string(reason)
        hub.publish(DaemonEvent(.action, type, f))
    }

    /// Counts `key` in the statistics and in the metrics (`mptcpctld_pm_KEY_total`).
    private func count(_ key: String) {
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
