import MPTCPKit

extension ConnectionTracker {
    /// One connection's decision, as the daemon executes and reports it.
    public struct Decided: Hashable, Sendable {
        public var token: UInt32
        public var side: ConnectionMatch.Side
        public var policy: ConnectionPolicy
        /// Commands to send now, in order (creations are queued: `takeCreates`).
        public var commands: [PlannedAction] = []
        /// How many actions the engine decided (creations included).
        public var actionCount = 0
        /// Promotions, demotions and handovers.
        public var events: [String] = []
        /// Addresses not announced, with why; `firstTime` is false once warned about
        /// (until the policy changes).
        public var refusedAnnouncements: [RefusedAnnouncement] = []
        /// Joins not answered within `retry.join_timeout`, each a failure backing off.
        public var joinTimeouts: [SubflowFailureNote] = []
    }

    /// An address the engine found unannounceable.
    public struct RefusedAnnouncement: Hashable, Sendable {
        /// "address:port".
        public var address: String
        public var reason: String
        public var firstTime: Bool
    }

    /// Decides for `token` at `now` (ms): nil when it is not managed (not yet
    /// established, gone, or another path manager's). Its memory takes the
    /// decision at once; creations join the queue, the other commands are
    /// returned to be sent and settled in order.
    /// - Parameter listeners: the namespace's MPTCP listeners, for a server-side
    ///   connection (`needsListeners`); nil when unknown, which announces nothing.
    /// - Parameter subflowsKnown: false when its subflows could not be read again
    ///   at a join's deadline (see `ConnectionEngine.decide`).
    public mutating func decide(_ token: UInt32, now: Int, listeners: [Listener]? = nil, subflowsKnown: Bool = true) -> Decided? {
        guard var entry = connections[token], entry.isManaged else { return nil }
        let previousMemory = entry.memory
        let decision = ConnectionEngine.decide(context, connection: entry.view, memory: entry.memory, now: now,
                                               jitter: jitter.unit(), listeners: entry.view.side == .server ? listeners : nil,
                                               subflowsKnown: subflowsKnown)
        var d = Decided(token: token, side: entry.view.side, policy: decision.policy, actionCount: decision.actions.count,
                        events: decision.events)
        for refusal in decision.refusedAnnouncements {
            let key = "\(AddressAndPort(address: refusal.address, port: entry.view.local.port))"
            d.refusedAnnouncements.append(RefusedAnnouncement(address: key, reason: refusal.reason,
                                                              firstTime: refusedWarned.insert(key).inserted))
        }
        entry.memory = decision.memory
        entry.lastPolicy = decision.policy
        for timeout in decision.joinTimeouts {
            let f = decision.memory.failures[timeout.slot]
            d.joinTimeouts.append(SubflowFailureNote(
                token: token, local: timeout.subflow.map { "\($0.local)" } ?? "\(timeout.slot.local)",
                remote: "\(AddressAndPort(address: timeout.slot.remote, port: timeout.slot.remotePort))",
                error: "join timed out", timeoutMilliseconds: decision.policy.retry.joinTimeoutMilliseconds,
                attempt: f?.attempts ?? 0, retryInMilliseconds: (f?.nextAttempt ?? now) - now))
        }
        for action in decision.actions {
            guard case .create(let slot, let id, let index, let backup, let reason) = action else {
                var joinTimeout: ConnectionDecision.JoinTimeout?
                if case .destroy(let s, _) = action { joinTimeout = decision.joinTimeouts.first { $0.subflow == s } }
                d.commands.append(PlannedAction(token: token, action: action, policy: decision.policy, joinTimeout: joinTimeout))
                continue
            }
            entry.wantedBackup[slot.local] = backup
            queuedCreates.append(PendingCreate(token: token, slot: slot, localID: id, interfaceIndex: index, backup: backup,
                                               reason: reason, policy: decision.policy,
                                               previousFailure: previousMemory.failures[slot], previousMemory: previousMemory))
        }
        connections[token] = entry
        schedule(token, now: now)
        return d
    }

    /// The creations decided since the last call, to be sent together (one datagram).
    public mutating func takeCreates() -> [PendingCreate] {
        defer { queuedCreates = [] }
        return queuedCreates
    }

    /// The earliest wake-up (ms) any connection needs, if any.
    public mutating func nextWake() -> Int? {
        while let (due, token) = timers.min {
            if let e = connections[token], e.wake == due { return due }
            timers.pop()
        }
        return nil
    }

    /// The connections whose wake-up is due at `now`, to decide again.
    public mutating func due(_ now: Int) -> [UInt32] {
        var due: [UInt32] = []
        while let (at, token) = timers.min, at <= now {
            timers.pop()
            if let e = connections[token], e.wake == at { due.append(token) }
        }
        return due
    }

    /// A connection's next wake-up, from its memory: exhausted retries never wake.
    mutating func schedule(_ token: UInt32, now: Int) {
        guard var entry = connections[token] else { return }
        let m = entry.memory
        let retry = (entry.lastPolicy ?? .builtInDefault).retry
        var wake = m.pending.values.min()
        // A retry time already past was acted on by the decision just made (or its
        // slot is pending again, or no longer wanted): it must not hide a later deadline.
        for f in m.failures.values where f.nextAttempt > now && retry.allowsRetry(after: f.attempts) {
            wake = min(wake ?? f.nextAttempt, f.nextAttempt)
        }
        if let f = m.failbackAt { wake = min(wake ?? f, f) }
        if wake != entry.wake, let wake { timers.push(wake, token) }
        entry.wake = wake
        connections[token] = entry
    }
}
