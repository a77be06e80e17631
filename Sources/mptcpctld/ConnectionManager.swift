import Logging
import MPTCPKit
import MPTCPPolicy
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The userspace path manager: tracks connections from `mptcp_pm` events,
/// asks the engine what each needs, and sends the commands. Owned by the daemon
/// service's single loop, which serialises every call.
final class ConnectionManager: @unchecked Sendable {
    private struct Entry {
        var view: ConnectionView
        var memory = ConnectionMemory()
        var established = false
        /// Our own backup choice per local address (events carry the peer's).
        var wantedBackup: [AddressAndPort: Bool] = [:]
        var lastPolicy: ConnectionPolicy?
    }

    private var connections: [UInt32: Entry] = [:]
    private let kernel: KernelHandle
    private let logger: Logger
    private let start = ContinuousClock.now
    private var jitter = SystemRandomNumberGenerator()
    private(set) var counters: [String: Int] = [:]
    /// The namespace's MPTCP listeners, read when a server-side connection is decided
    /// (at most once per batch of events); nil when they could not be read.
    private var listeners: [Listener]?
    private var listenersFresh = false
    /// "address:port" already warned about as unannounceable (cleared on reload).
    private var refusedWarned: Set<String> = []

    init(kernel: KernelHandle, logger: Logger) {
        self.kernel = kernel
        self.logger = logger
    }

    var now: Int {
        let d = ContinuousClock.now - start
        return Int(d.components.seconds) * 1000 + Int(d.components.attoseconds / 1_000_000_000_000_000)
    }

    var count: Int { connections.count }

    /// Lists every live MPTCP connection through sock_diag and manages it: at
    /// start-up (adoption) and after lost events (resynchronisation).
    func resync(policy: Policy, network: NetworkSnapshot, reason: String) {
        let table: [Connection]
        do { table = try ConnectionTable.read(namespace: kernel.namespace) } catch {
            logger.error("cannot list connections", metadata: ["reason": "\(reason)", "error": "\(error)"])
            return
        }
        var seen: Set<UInt32> = []
        for c in table {
            seen.insert(c.token)
            var entry = connections[c.token] ?? Entry(view: ConnectionView(
                token: c.token, side: c.side == .server ? .server : .client,
                local: AddressAndPort(address: c.localAddress, port: c.localPort),
                remote: AddressAndPort(address: c.remoteAddress, port: c.remotePort),
                initialInterface: network.addresses.first { $0.address == c.localAddress }?.interfaceIndex))
            entry.established = true
            // Closing subflows (FIN_WAIT over a dead link) are not paths any more.
            entry.view.subflows = c.subflows.filter { $0.state == 1 }.map {
                SubflowView(local: AddressAndPort(address: $0.localAddress, port: $0.localPort),
                            remote: AddressAndPort(address: $0.remoteAddress, port: $0.remotePort),
                            localID: $0.localID, backup: $0.backupLocal, interfaceIndex: $0.interfaceIndex)
            }
            if let ids = try? kernel.pathManager.addresses(token: c.token) {
                for e in ids {
                    entry.view.localIDs[e.address] = e.id
                    if e.flags.contains(.signal) { entry.view.announcedLocal[e.address] = e.id }
                }
            }
            connections[c.token] = entry
        }
        let gone = connections.keys.filter { !seen.contains($0) }
        for token in gone { connections[token] = nil }
        logger.info("connections resynchronised", metadata: [
            "reason": "\(reason)", "connections": "\(connections.count)", "forgotten": "\(gone.count)",
        ])
        decideAll(policy: policy, network: network)
    }

    /// Applies a batch of events; decides for the connections they touched.
    func handle(_ notices: [EventNotice], policy: Policy, network: NetworkSnapshot) -> Bool {
        var touched: Set<UInt32> = []
        var lost = false
        for notice in notices {
            switch notice {
            case .eventsLost: lost = true
            case .malformed(let why): logger.warning("malformed MPTCP event", metadata: ["detail": "\(why)"])
            case .event(let e): if let t = apply(e, network: network) { touched.insert(t) }
            }
        }
        if lost {
            count("events_lost")
            logger.warning("MPTCP events were lost (receive buffer overrun); resynchronising through sock_diag",
                           metadata: ["losses": "\(counters["events_lost", default: 0])"])
            resync(policy: policy, network: network, reason: "events lost")
            return true
        }
        listenersFresh = false
        for token in touched { decide(token, policy: policy, network: network) }
        return false
    }

    /// A new policy: announcement refusals are worth saying again.
    func policyChanged() { refusedWarned = [] }

    private func currentListeners() -> [Listener]? {
        if !listenersFresh {
            listenersFresh = true
            do { listeners = try ConnectionTable.listeners(namespace: kernel.namespace) } catch {
                listeners = nil
                logger.error("cannot list MPTCP listeners: announcing nothing", metadata: ["error": "\(error)"])
            }
        }
        return listeners
    }

    private func apply(_ e: Event, network: NetworkSnapshot) -> UInt32? {
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
            entry.view.subflows.removeAll { $0.local == local && $0.remote.address == r }
            if let slot = entry.memory.pending.keys.first(where: { $0.local == l && $0.remote == r }) ?? (e.error ?? 0 != 0
                ? SubflowSlot(local: l, remote: r, remotePort: e.remotePort ?? 0, index: 0) : nil) {
                let policy = entry.lastPolicy ?? .builtInDefault
                ConnectionEngine.recordFailure(slot, policy: policy, memory: &entry.memory, now: now, jitter: Double.random(in: 0..<1, using: &jitter))
                count("subflows_failed")
            }
            connections[token] = entry
            return token
        default:
            return nil
        }
    }

    /// Link or address changes, reloads and timers: re-apply the policy everywhere.
    func decideAll(policy: Policy, network: NetworkSnapshot) {
        listenersFresh = false
        for token in connections.keys { decide(token, policy: policy, network: network) }
    }

    /// The earliest time (ms, this manager's clock) a pending creation expires or a retry is due.
    var nextWake: Int? {
        connections.values.flatMap { e in
            Array(e.memory.pending.values) + e.memory.failures.values.map(\.nextAttempt) + (e.memory.failbackAt.map { [$0] } ?? [])
        }.min()
    }

    private func decide(_ token: UInt32, policy: Policy, network: NetworkSnapshot) {
        guard var entry = connections[token], entry.established else { return }
        let decision = ConnectionEngine.decide(policy: policy, network: network, connection: entry.view, memory: entry.memory,
                                               now: now, jitter: Double.random(in: 0..<1, using: &jitter),
                                               listeners: entry.view.side == .server ? currentListeners() : nil)
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
        logger.trace("decided", metadata: ["token": "\(formatToken(token))", "side": "\(entry.view.side)",
                                           "policy": "\(decision.policy.name)", "actions": "\(decision.actions.count)"])
        for event in decision.events {
            logger.notice("\(event)", metadata: ["token": "\(formatToken(token))", "policy": "\(decision.policy.name)"])
            count(event.hasPrefix("promoted") ? "promotions" : event.hasPrefix("demoted") ? "demotions" : "handovers")
        }
        for action in decision.actions {
            switch action {
            case .create(let slot, let id, let index, let backup, let reason):
                let local = Endpoint(id: id, address: slot.local, flags: backup ? .backup : [], interfaceIndex: index)
                let remote = AddressAndPort(address: slot.remote, port: slot.remotePort)
                entry.wantedBackup[AddressAndPort(address: slot.local, port: 0)] = backup
                do {
                    try kernel.pathManager.createSubflow(token: token, local: local, remote: remote)
                    if id != 0 { entry.view.localIDs[slot.local] = id }
                    count("subflows_created")
                    logger.debug("creating subflow", metadata: [
                        "token": "\(formatToken(token))", "local": "\(slot.local)", "local_id": "\(id)",
                        "remote": "\(remote)", "backup": "\(backup)", "reason": "\(reason)",
                    ])
                } catch {
                    ConnectionEngine.recordFailure(slot, policy: decision.policy, memory: &entry.memory, now: now,
                                                   jitter: Double.random(in: 0..<1, using: &jitter))
                    logger.warning("kernel refused a subflow", metadata: [
                        "token": "\(formatToken(token))", "local": "\(slot.local)", "remote": "\(remote)", "error": "\(error)",
                    ])
                }
            case .destroy(let s, let reason):
                do {
                    try kernel.pathManager.destroySubflow(token: token, local: s.local, remote: s.remote)
                    entry.view.subflows.removeAll { $0 == s }
                    logger.info("destroyed subflow", metadata: [
                        "token": "\(formatToken(token))", "local": "\(s.local)", "remote": "\(s.remote)", "reason": "\(reason)",
                    ])
                } catch {
                    entry.view.subflows.removeAll { $0 == s }
                    logger.debug("subflow already gone", metadata: ["token": "\(formatToken(token))", "error": "\(error)"])
                }
            case .removeAddress(let id, let address, let subflows, let reason):
                // RM_ADDR travels over a surviving subflow so the peer stops using the
                // dead path at once; the local subflows are closed explicitly (REMOVE
                // alone leaves them established on 6.18).
                do {
                    try kernel.pathManager.remove(token: token, localID: id)
                    count("addresses_withdrawn")
                } catch {
                    logger.debug("nothing to withdraw", metadata: ["token": "\(formatToken(token))", "local_id": "\(id)", "error": "\(error)"])
                }
                for s in subflows {
                    do { try kernel.pathManager.destroySubflow(token: token, local: s.local, remote: s.remote) } catch {
                        logger.debug("subflow already gone", metadata: ["token": "\(formatToken(token))", "local": "\(s.local)", "error": "\(error)"])
                    }
                }
                logger.info("withdrew address", metadata: [
                    "token": "\(formatToken(token))", "address": "\(address)", "local_id": "\(id)",
                    "subflows": "\(subflows.count)", "reason": "\(reason)",
                ])
                entry.view.subflows.removeAll { subflows.contains($0) }
                entry.view.announcedLocal[address] = nil
            case .announce(let id, let address, let index, let reason):
                do {
                    try kernel.pathManager.announce(token: token, address: Endpoint(id: id, address: address, flags: .signal, interfaceIndex: index))
                    entry.view.announcedLocal[address] = id
                    count("addresses_announced")
                    logger.debug("announced address", metadata: [
                        "token": "\(formatToken(token))", "address": "\(address)", "local_id": "\(id)", "reason": "\(reason)",
                    ])
                } catch {
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
                } catch {
                    logger.warning("kernel refused a priority change", metadata: ["token": "\(formatToken(token))", "error": "\(error)"])
                }
            }
        }
        connections[token] = entry
    }

    private func count(_ key: String) { counters[key, default: 0] += 1 }
}

/// Reads `mptcp_pm` events on a thread of its own and hands them to the loop.
final class EventWatcher: @unchecked Sendable {
    private let subscription: EventSubscription
    private let doorbell: Doorbell
    private let queue = Mutex<[EventNotice]>([])
    private let stop = Atomic<Bool>(false)
    private let logger: Logger
    /// Set by `start`, cleared by `join`; both run on the service's task.
    private var thread: pthread_t?

    init(subscription: EventSubscription, doorbell: Doorbell, logger: Logger) {
        self.subscription = subscription
        self.doorbell = doorbell
        self.logger = logger
    }

    func take() -> [EventNotice] { queue.withLock { q in defer { q = [] }; return q } }

    func start() {
        let box = Unmanaged.passRetained(self)
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { raw in
            let watcher = Unmanaged<EventWatcher>.fromOpaque(raw!).takeRetainedValue()
            watcher.loop()
            return nil
        }, box.toOpaque())
        if rc == 0 { thread = t } else {
            box.release()
            logger.critical("cannot start the MPTCP event thread", metadata: ["errno": "\(rc)"])
        }
    }

    func join() {
        stop.store(true, ordering: .relaxed)
        if let thread { pthread_join(thread, nil) }
        thread = nil
    }

    private func loop() {
        while !stop.load(ordering: .relaxed) {
            do {
                let notices = try subscription.next(timeoutMilliseconds: 200)
                if !notices.isEmpty {
                    queue.withLock { $0.append(contentsOf: notices) }
                    doorbell.ring(.mptcp)
                }
            } catch {
                logger.error("reading MPTCP events failed; resynchronising", metadata: ["error": "\(error)"])
                queue.withLock { $0.append(.eventsLost) }
                doorbell.ring(.mptcp)
                usleep(200_000)
            }
        }
    }
}
