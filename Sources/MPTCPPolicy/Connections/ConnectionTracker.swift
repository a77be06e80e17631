import MPTCPKit

/// The userspace path manager's state machine, as a value: the connection
/// table, the wake-up timers, the creations waiting to be sent. Events fold in
/// (`apply`), a sock_diag table is adopted (`adopt`), the engine decides
/// (`decide`), and each command's outcome is settled (`settle`). Time (ms, any
/// origin) and randomness (the jitter's seed) are inputs: the same inputs give
/// the same answers. The daemon executes, logs and publishes what it returns.
public struct ConnectionTracker: Sendable {
    public internal(set) var connections: [UInt32: TrackedConnection] = [:]
    /// The policy and network every decision uses, with their shared work done once.
    public internal(set) var context: ConnectionEngine.Context
    /// Due times (ms) of per-connection wake-ups, lazily invalidated: an item counts
    /// only while it equals its connection's `wake`.
    var timers = TimerHeap()
    var jitter: Jitter
    /// "address:port" already warned about as unannounceable (cleared on a new policy).
    var refusedWarned: Set<String> = []
    /// Creations decided and not yet sent (`takeCreates`).
    var queuedCreates: [PendingCreate] = []
    /// Each path's heal count as of the last `update` (`PathHealthView.Verdict.heals`):
    /// a path counted higher has healed since, and its subflows are rebuilt once.
    var actedHeals: [PathKey: Int] = [:]

    public init(policy: Policy, network: NetworkSnapshot, seed: UInt64) {
        context = ConnectionEngine.Context(policy: policy, network: network)
        jitter = Jitter(seed: seed)
    }

    /// A new policy, network snapshot or health view; the caller decides again
    /// (`decideAll`). With `policyChanged`, announcement refusals are worth
    /// warning about again. A path that heals (was `down` or `degraded`, is
    /// usable now) has its subflows' backoff forgotten, so the decision re-creates
    /// them at once rather than at a retry time set while the path was broken.
    /// A path that left `down` since the last update (its heal count grew) has
    /// the subflows it kept through the outage marked to be rebuilt
    /// (`ConnectionMemory.rebuild`): their retransmission timer backed off.
    public mutating func update(policy: Policy, network: NetworkSnapshot, health: PathHealthView = .none,
                                policyChanged: Bool = false) {
        let healed = Self.healedAddresses(from: context.health, to: health, network: network)
        let rebuilt = Self.addresses(of: health.healed(since: actedHeals), network: network)
        actedHeals.merge(health.heals) { _, new in new }
        context = ConnectionEngine.Context(policy: policy, network: network, health: health)
        if policyChanged { refusedWarned = [] }
        let forgotten = healed.union(rebuilt)
        guard !forgotten.isEmpty else { return }
        for (token, var entry) in connections {
            let stale = entry.view.subflows.filter { rebuilt.contains($0.local.address) }.map(\.local)
            guard !stale.isEmpty || entry.memory.failures.keys.contains(where: { forgotten.contains($0.local) }) else { continue }
            entry.memory.rebuild.formUnion(stale)
            entry.memory.failures = entry.memory.failures.filter { !forgotten.contains($0.key.local) }
            connections[token] = entry
        }
    }

    /// The addresses of the paths usable in `new` that were not in `old`.
    static func healedAddresses(from old: PathHealthView, to new: PathHealthView, network: NetworkSnapshot) -> Set<IPAddress> {
        addresses(of: Set(old.paths.keys.filter { !old.state(of: $0).isUsable && new.state(of: $0).isUsable }), network: network)
    }

    /// The addresses on the paths `healed` (interface × family) in `network`.
    static func addresses(of healed: Set<PathKey>, network: NetworkSnapshot) -> Set<IPAddress> {
        guard !healed.isEmpty else { return [] }
        let names = Dictionary(network.links.map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
        return Set(network.addresses.filter { a in
            names[a.interfaceIndex].map { healed.contains(PathKey(interface: $0, family: a.address.isIPv4 ? .ipv4 : .ipv6)) } ?? false
        }.map(\.address))
    }

    /// A reload: announcement refusals are worth warning about again (the
    /// policy itself comes with the next `update`).
    public mutating func policyChanged() {
        refusedWarned = []
    }

    /// Every tracked token.
    public var tokens: [UInt32] { Array(connections.keys) }

    /// The connections the policy decides for (announcements need listeners for them).
    public var managedViews: [ConnectionView] { connections.values.filter(\.isManaged).map(\.view) }

    /// The policy each connection was last decided under, by token.
    public var policyNames: [UInt32: String] { connections.compactMapValues { $0.lastPolicy?.name } }

    /// Whether deciding `token` needs the namespace's listeners (a managed server-side connection).
    public func needsListeners(_ token: UInt32) -> Bool {
        connections[token].map { $0.isManaged && $0.view.side == .server } ?? false
    }

    /// Marks (or, with `pinned` false, unmarks) a hand-made subflow of `token`,
    /// which the policy then leaves alone until it closes. False when the
    /// connection is not tracked.
    @discardableResult
    public mutating func setManual(token: UInt32, local: IPAddress, remote: AddressAndPort, pinned: Bool) -> Bool {
        guard connections[token] != nil else { return false }
        let key = ConnectionMemory.ManualSubflow(local: local, remote: remote)
        if pinned { connections[token]?.memory.manual.insert(key) } else { connections[token]?.memory.manual.remove(key) }
        return true
    }

    /// Forgets a connection that turned out gone while it was acted on.
    mutating func forget(_ token: UInt32) {
        connections[token] = nil
    }
}

// MARK: Adoption from sock_diag

extension ConnectionTracker {
    /// What `adopt` did.
    public struct Adoption: Hashable, Sendable {
        /// Tracked connections sock_diag no longer shows.
        public var forgotten: Int
        /// Connections of the in-kernel path manager among those tracked.
        public var foreign: Int
    }

    /// The connections of a sock_diag table worth adopting: only those in
    /// ESTABLISHED (one still connecting announces itself with its events, and a
    /// closing one, whose addresses may read as zero, is of no use), and not
    /// fallen back to TCP (after SYN+MP_CAPABLE drops it has no token left).
    public static func adoptable(_ table: [Connection]) -> [Connection] {
        table.filter { c in
            c.state == .established && c.remotePort != 0 && !c.remoteAddress.isUnspecified && c.info.flags & 1 == 0
        }
    }

    /// Makes the table the truth: every adoptable connection is tracked (new ones
    /// established, with their subflows), every other is forgotten. `addresses`
    /// are each connection's local address ids (the kernel's per-connection list),
    /// where they could be read; a refusal as another path manager's marks it foreign.
    public mutating func adopt(_ table: [Connection], addresses: [UInt32: Result<[Endpoint], MPTCPError>]) -> Adoption {
        var seen: Set<UInt32> = []
        for c in Self.adoptable(table) {
            seen.insert(c.token)
            var entry = connections[c.token] ?? TrackedConnection(view: ConnectionView(
                token: c.token, side: c.side == .server ? .server : .client,
                local: AddressAndPort(address: c.localAddress, port: c.localPort),
                remote: AddressAndPort(address: c.remoteAddress, port: c.remotePort),
                initialInterface: context.network.addresses.first { $0.address == c.localAddress }?.interfaceIndex))
            entry.established = true
            Self.refreshSubflows(&entry, c)
            switch addresses[c.token] {
            case .success(let endpoints):
                for e in endpoints {
                    entry.view.localIDs[e.address] = e.id
                    if e.flags.contains(.signal) { entry.view.announcedLocal[e.address] = e.id }
                }
            case .failure(let error) where error.isUserspacePMNotSelected:
                entry.foreign = true
            case .failure, nil:
                break
            }
            connections[c.token] = entry
        }
        let gone = connections.keys.filter { !seen.contains($0) }
        for token in gone { connections[token] = nil }
        return Adoption(forgotten: gone.count, foreign: connections.values.filter(\.foreign).count)
    }

    /// The connections among `tokens` with a request past its deadline at `now`:
    /// their subflows are read again (`refreshSubflows`) before they are decided,
    /// so the engine sees the half-open subflow it must destroy.
    public func overdue(_ tokens: some Collection<UInt32>, now: Int) -> Set<UInt32> {
        Set(tokens.filter { token in
            connections[token].map { e in e.isManaged && e.memory.pending.values.contains { $0 <= now } } ?? false
        })
    }

    /// Takes the subflows of `tokens` from a sock_diag table: events tell when a
    /// join succeeds or fails, never that it is still half-open, nor the local
    /// port its destruction needs. Returns the tokens the table did not show.
    public mutating func refreshSubflows(_ tokens: Set<UInt32>, from table: [Connection]) -> Set<UInt32> {
        var unread = tokens
        for c in table where tokens.contains(c.token) {
            guard var entry = connections[c.token] else { continue }
            Self.refreshSubflows(&entry, c)
            connections[c.token] = entry
            unread.remove(c.token)
        }
        return unread
    }

    /// The subflows the engine weighs: established ones and joins under way (which
    /// hold their slot until `join_timeout`). Closing ones (FIN_WAIT over a dead
    /// link) are neither paths nor requests any more. Our closes whose subflow
    /// sock_diag no longer shows are dropped: their SUB_CLOSED came unseen or never
    /// comes; kept, they would excuse the failure of a later join on the same port.
    static func refreshSubflows(_ entry: inout TrackedConnection, _ c: Connection) {
        entry.view.subflows = c.subflows.filter { $0.carriesTraffic || $0.state.isHandshaking }.map {
            SubflowView(local: AddressAndPort(address: $0.localAddress, port: $0.localPort),
                        remote: AddressAndPort(address: $0.remoteAddress, port: $0.remotePort),
                        localID: $0.localID, backup: $0.backupLocal, interfaceIndex: $0.interfaceIndex, state: $0.state)
        }
        entry.closing = entry.closing.filter { closing in
            c.subflows.contains {
                $0.localAddress == closing.local.address && $0.localPort == closing.local.port && $0.remoteAddress == closing.remote
            }
        }
    }
}
