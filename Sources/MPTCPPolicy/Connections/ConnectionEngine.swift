import MPTCPKit

/// A userspace-PM connection as the engine sees it: the initial path, what the
/// peer announced, the subflows that exist, and the per-connection address ids.
public struct ConnectionView: Hashable, Sendable {
    public var token: UInt32
    public var side: ConnectionMatch.Side
    public var local: AddressAndPort
    public var remote: AddressAndPort
    /// The interface of the initial subflow (bound device, else the holder of its address).
    public var initialInterface: Int32?
    /// The peer refuses joins to its initial address and port (`deny_join_id0`).
    public var denyJoinID0: Bool = false
    /// Addresses the peer announced (ADD_ADDR): id, address, port (0: the connection's).
    public var announced: [AnnouncedAddress] = []
    public var subflows: [SubflowView] = []
    /// Local address -> id on this connection (the kernel's per-connection list).
    public var localIDs: [IPAddress: UInt8] = [:]
    /// Local addresses this daemon announced to the peer (ADD_ADDR), with their ids.
    public var announcedLocal: [IPAddress: UInt8] = [:]

    public init(token: UInt32, side: ConnectionMatch.Side, local: AddressAndPort, remote: AddressAndPort, initialInterface: Int32?) {
        self.token = token
        self.side = side
        self.local = local
        self.remote = remote
        self.initialInterface = initialInterface
    }
}

public struct AnnouncedAddress: Hashable, Sendable {
    public var id: UInt8
    public var address: IPAddress
    public var port: UInt16
    public init(id: UInt8, address: IPAddress, port: UInt16) {
        self.id = id
        self.address = address
        self.port = port
    }
}

public struct SubflowView: Hashable, Sendable {
    public var local: AddressAndPort
    public var remote: AddressAndPort
    public var localID: UInt8
    /// This host marked it backup.
    public var backup: Bool
    public var interfaceIndex: Int32
    /// Its TCP state: `established`, or a join still under way (`syn-sent`).
    public var state: TCPState

    public init(local: AddressAndPort, remote: AddressAndPort, localID: UInt8, backup: Bool, interfaceIndex: Int32,
                state: TCPState = .established) {
        self.local = local
        self.remote = remote
        self.localID = localID
        self.backup = backup
        self.interfaceIndex = interfaceIndex
        self.state = state
    }

    /// Whether it is a path (`TCPState.carriesTraffic`); otherwise a join under way.
    public var carriesTraffic: Bool { state.carriesTraffic }
}

/// A subflow the policy wants: identified by its address pair and, for
/// ndiffports, an index over the same pair.
public struct SubflowSlot: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var local: IPAddress
    public var remote: IPAddress
    public var remotePort: UInt16
    public var index: Int

    public init(local: IPAddress, remote: IPAddress, remotePort: UInt16, index: Int) {
        self.local = local
        self.remote = remote
        self.remotePort = remotePort
        self.index = index
    }

    public static func < (a: SubflowSlot, b: SubflowSlot) -> Bool {
        (a.local.description, a.remote.description, a.remotePort, a.index) < (b.local.description, b.remote.description, b.remotePort, b.index)
    }

    public var description: String { "\(local)->\(AddressAndPort(address: remote, port: remotePort))#\(index)" }
}

/// What the engine remembers per connection between decisions.
public struct ConnectionMemory: Hashable, Sendable {
    /// Creations sent and not yet established, with the time after which they count
    /// as failed (`retry.join_timeout` after the request). A pending slot is never
    /// requested again: at its deadline its half-open subflow is destroyed and the
    /// slot backs off like any failure.
    public var pending: [SubflowSlot: Int] = [:]
    /// Failed creations: attempts so far and the earliest time of the next one.
    public var failures: [SubflowSlot: Failure] = [:]
    /// Since when a non-backup primary path has been up (for failback_hold).
    public var primaryUpSince: Int?
    /// Backup subflows promoted because no primary was left (local address and port).
    public var promoted: Set<AddressAndPort> = []
    /// Handover subflows were created because no active path was left.
    public var handoverActive = false
    /// When failback is due (primary back for failback_hold): decide again then.
    public var failbackAt: Int?
    /// Addresses not announced because no MPTCP listener would accept the join (said once).
    public var unannounceable: Set<IPAddress> = []
    /// Subflows an operator created by hand (the control API's `subflow.create`):
    /// kept as they are, whatever the policy wants, until they close.
    public var manual: Set<ManualSubflow> = []

    /// A hand-made subflow, by its local address and its peer's address and port.
    public struct ManualSubflow: Hashable, Sendable {
        public var local: IPAddress
        public var remote: AddressAndPort

        public init(local: IPAddress, remote: AddressAndPort) {
            self.local = local
            self.remote = remote
        }
    }

    public struct Failure: Hashable, Sendable {
        public var attempts: Int
        public var nextAttempt: Int
    }

    public init() {}
}

/// One change to a connection.
public enum ConnectionAction: Hashable, Sendable {
    case create(slot: SubflowSlot, localID: UInt8, interfaceIndex: Int32, backup: Bool, reason: String)
    case destroy(SubflowView, reason: String)
    /// Withdraw a local address id (RM_ADDR over the surviving subflows, and the
    /// kernel closes this side's subflows on it): how the peer learns at once that
    /// a path died, which a subflow close sent over the dead link cannot tell it.
    case removeAddress(id: UInt8, address: IPAddress, subflows: [SubflowView], reason: String)
    case setBackup(SubflowView, backup: Bool, reason: String)
    /// Announce a local address to the peer (ADD_ADDR, server side): on `port`,
    /// or on the connection's own port when 0.
    case announce(id: UInt8, address: IPAddress, port: UInt16, interfaceIndex: Int32, reason: String)
}

/// The engine's answer for one connection.
public struct ConnectionDecision: Hashable, Sendable {
    public var policy: ConnectionPolicy
    public var actions: [ConnectionAction] = []
    public var memory: ConnectionMemory
    /// Promotions, demotions and handovers, for the log and the counters.
    public var events: [String] = []
    /// Addresses newly found unannounceable, with why (for the log).
    public var refusedAnnouncements: [(address: IPAddress, reason: String)] = []
    /// Joins not answered within `retry.join_timeout`: failures, each backing off
    /// (`memory.failures` has the attempt and the next time), for the log and the counters.
    public var joinTimeouts: [JoinTimeout] = []

    /// A subflow request that got no answer in time.
    public struct JoinTimeout: Hashable, Sendable {
        public var slot: SubflowSlot
        /// Its half-open subflow, destroyed by this decision; nil when the kernel
        /// showed none (it closed without a word, or never started).
        public var subflow: SubflowView?
    }

    public static func == (a: ConnectionDecision, b: ConnectionDecision) -> Bool {
        a.policy == b.policy && a.actions == b.actions && a.memory == b.memory && a.events == b.events
            && a.refusedAnnouncements.map(\.address) == b.refusedAnnouncements.map(\.address)
            && a.joinTimeouts == b.joinTimeouts
    }

    public func hash(into h: inout Hasher) {
        h.combine(policy)
        h.combine(actions)
        h.combine(memory)
        h.combine(events)
        h.combine(joinTimeouts)
    }
}

/// The userspace path manager's decisions: pure, from (policy, network,
/// connection, memory, now) to actions.
public enum ConnectionEngine {
    /// The first `[[connection]]` block matching the connection, else the built-in default.
    public static func policy(for c: ConnectionView, policy: Policy, network: NetworkSnapshot) -> ConnectionPolicy {
        let name = c.initialInterface.flatMap { network.link($0)?.name }
        return policy.connections.first {
            $0.match.matches(side: c.side, remote: c.remote.address, remotePort: c.remote.port, localPort: c.local.port, interface: name)
        } ?? .builtInDefault
    }

    /// What every decision under one policy and one network snapshot shares: the
    /// usable local addresses, computed once per change rather than per connection.
    public struct Context: Sendable {
        public let policy: Policy
        public let network: NetworkSnapshot
        let candidates: [Candidate]
        let usable: [IPAddress: Candidate]
        let handoverInterfaces: Bool

        public init(policy: Policy, network: NetworkSnapshot) {
            self.policy = policy
            self.network = network
            var ignored: [IPAddress: String] = [:]
            candidates = Planner.desiredEndpoints(policy: policy, network: network, excluded: &ignored)
            usable = Dictionary(candidates.map { ($0.address, $0) }, uniquingKeysWith: { a, _ in a })
            handoverInterfaces = candidates.contains { $0.role == .handover }
        }
    }

    /// A usable local address: what the planner would make an endpoint of.
    typealias Candidate = DesiredEndpoint

    /// How long a join past its timeout stays pending when its subflows could not be
    /// read (ms): then it is looked at again, never timed out blind.
    public static let subflowRecheckMilliseconds = 1000

    /// - Parameter listeners: the namespace's MPTCP listeners, for server-side
    ///   announcements (an address is only announced where a join can be accepted);
    ///   nil when unknown, which announces nothing.
    /// - Parameter subflowsKnown: false when the connection's subflows could not be
    ///   read from the kernel at a join's deadline: a half-open subflow may exist
    ///   unseen, so no join times out (it would be asked for again beside it); the
    ///   request stays pending for `subflowRecheckMilliseconds`.
    public static func decide(policy: Policy, network: NetworkSnapshot, connection c: ConnectionView,
                              memory: ConnectionMemory, now: Int, jitter: Double = 0.5,
                              listeners: [Listener]? = nil, subflowsKnown: Bool = true) -> ConnectionDecision {
        decide(Context(policy: policy, network: network), connection: c, memory: memory, now: now, jitter: jitter,
               listeners: listeners, subflowsKnown: subflowsKnown)
    }

    /// The same, with the per-snapshot work done once (`Context`).
    public static func decide(_ context: Context, connection c: ConnectionView,
                              memory: ConnectionMemory, now: Int, jitter: Double = 0.5,
                              listeners: [Listener]? = nil, subflowsKnown: Bool = true) -> ConnectionDecision {
        let network = context.network
        let p = Self.policy(for: c, policy: context.policy, network: network)
        var d = ConnectionDecision(policy: p, memory: memory)
        let candidates = context.candidates
        let usable = context.usable

        // 1. Addresses no longer usable (link or address down, role off) are withdrawn
        //    with their subflows, one REMOVE per local id.
        var alive: [SubflowView] = []
        var dead: [UInt8: [SubflowView]] = [:]
        for s in c.subflows {
            if usable[s.local.address] == nil && !(isInitial(s, c) && usableInitial(c, network)) {
                dead[s.localID, default: []].append(s)
            } else {
                alive.append(s)
            }
        }
        var withdrawn: [UInt8: IPAddress] = [:]
        for (id, subflows) in dead { withdrawn[id] = subflows[0].local.address }
        // Announcements of addresses that went (or are no longer to be announced).
        for (address, id) in c.announcedLocal where !(usable[address]?.flags.contains(.signal) ?? false) {
            withdrawn[id] = address
        }
        for (id, address) in withdrawn.sorted(by: { $0.key < $1.key }) {
            let subflows = dead[id] ?? []
            let name = (subflows.first?.interfaceIndex).flatMap { network.link($0)?.name }
            let why = usable[address] == nil ? "is no longer usable" : "is no longer announced"
            d.actions.append(.removeAddress(id: id, address: address, subflows: subflows,
                                            reason: "\(address)\(name.map { " (" + $0 + ")" } ?? "") \(why)"))
        }
        func role(of s: SubflowView) -> Role {
            usable[s.local.address]?.role ?? (isInitial(s, c) ? .active : .off)
        }

        // 2. Steering state: is a primary (non-backup, active-role) path up?
        //    A join still under way is no path.
        let primaryUp = alive.contains { $0.carriesTraffic && role(of: $0) == .active && !$0.backup }
        if primaryUp {
            if d.memory.primaryUpSince == nil { d.memory.primaryUpSince = now }
        } else {
            d.memory.primaryUpSince = nil
        }
        let primaryHeld = d.memory.primaryUpSince.map { now - $0 >= p.failbackHoldMilliseconds } ?? false
        let handoverWanted = p.mode == .handover || context.handoverInterfaces
        if handoverWanted {
            if !primaryUp && !d.memory.handoverActive {
                d.memory.handoverActive = true
                d.events.append("handover: no active path left, opening handover subflows")
            } else if d.memory.handoverActive && primaryHeld {
                d.memory.handoverActive = false
                d.events.append("handover: active path back for \(p.failbackHoldMilliseconds) ms, closing handover subflows")
            }
        }

        // 3. The slots the strategy wants, best first, capped at max_subflows.
        var allowedRoles: Set<Role> = [.active, .backup]
        if d.memory.handoverActive { allowedRoles.insert(.handover) }
        let locals = candidates.filter { allowedRoles.contains($0.role) }
        var remotes: [AddressAndPort] = c.denyJoinID0 ? [] : [c.remote]
        for a in c.announced { remotes.append(AddressAndPort(address: a.address, port: a.port == 0 ? c.remote.port : a.port)) }
        var wanted: [(SubflowSlot, Candidate)] = []
        // A server opens no subflows (the client's side would have to accept the
        // join): it announces its addresses instead, and steers what the client made.
        switch c.side == .server ? .single : p.strategy {
        case .single:
            break
        case .fullmesh:
            for l in locals {
                for r in remotes where r.address.isIPv4 == l.address.isIPv4 {
                    if l.address == c.local.address && r == c.remote { continue }  // the initial subflow
                    wanted.append((SubflowSlot(local: l.address, remote: r.address, remotePort: r.port, index: 0), l))
                }
            }
        case .ndiffports:
            if let l = usable[c.local.address] ?? locals.first(where: { $0.address == c.local.address }), !c.denyJoinID0 {
                for i in 1..<max(1, p.ndiffports) {
                    wanted.append((SubflowSlot(local: c.local.address, remote: c.remote.address, remotePort: c.remote.port, index: i), l))
                }
            }
        case .perInterface:
            let target = remotes.first { $0.address.isIPv4 == c.remote.address.isIPv4 }
            if let target {
                var seen: Set<Int32> = []
                // The initial interface already has its path, as long as the initial subflow lives.
                if let i = c.initialInterface, alive.contains(where: { isInitial($0, c) }) { seen.insert(i) }
                for l in locals where l.address.isIPv4 == target.address.isIPv4 && seen.insert(l.interfaceIndex).inserted {
                    wanted.append((SubflowSlot(local: l.address, remote: target.address, remotePort: target.port, index: 0), l))
                }
            }
        }
        let rank: [Role: Int] = [.active: 0, .backup: 1, .handover: 2]
        wanted.sort { a, b in
            let ra = rank[a.1.role] ?? 3, rb = rank[b.1.role] ?? 3
            if ra != rb { return ra < rb }
            if a.1.rule != b.1.rule { return a.1.rule < b.1.rule }
            if a.1.interfaceName != b.1.interfaceName { return a.1.interfaceName < b.1.interfaceName }
            return a.0 < b.0
        }
        // max_subflows counts subflows beyond the first: with the initial subflow gone,
        // one more may take its place (the total never exceeds max_subflows + 1).
        let initialAlive = alive.contains { isInitial($0, c) }
        wanted = Array(wanted.prefix(p.maxSubflows + (initialAlive ? 0 : 1)))

        // 4. Match existing subflows (other than the initial one) to slots; established
        //    ones first, so that a half-open duplicate of a working path is left over.
        //    A half-open subflow (its join unanswered) makes its slot pending, not
        //    missing: it is never requested twice. Past `join_timeout` it is destroyed
        //    and the slot fails and backs off; the retry comes after the backoff.
        let others = alive.filter { !isInitial($0, c) }
        var unmatched = others.filter(\.carriesTraffic) + others.filter { !$0.carriesTraffic }
        var missing: [(SubflowSlot, Candidate)] = []
        var kept: [(SubflowView, Candidate)] = []
        let timeout = p.retry.joinTimeoutMilliseconds
        func joinTimedOut(_ slot: SubflowSlot, _ s: SubflowView?) {
            guard subflowsKnown else {
                // Unseen is not absent: look again before counting it failed.
                d.memory.pending[slot] = now + subflowRecheckMilliseconds
                return
            }
            if let s {
                d.actions.append(.destroy(s, reason: "join to \(s.remote) not answered within \(timeout) ms: retried after the backoff"))
            }
            recordFailure(slot, policy: p, memory: &d.memory, now: now, jitter: jitter)
            d.joinTimeouts.append(.init(slot: slot, subflow: s))
        }
        for (slot, l) in wanted {
            if let i = unmatched.firstIndex(where: { $0.local.address == slot.local && $0.remote.address == slot.remote && $0.remote.port == slot.remotePort }) {
                let s = unmatched.remove(at: i)
                if s.carriesTraffic {
                    kept.append((s, l))
                    d.memory.pending[slot] = nil
                    d.memory.failures[slot] = nil
                    continue
                }
                // Adopted half-open (no request remembered): its time starts now.
                let deadline = d.memory.pending[slot] ?? now + timeout
                if deadline <= now { joinTimedOut(slot, s) } else { d.memory.pending[slot] = deadline }
            } else {
                // Requested, and no socket seen: the request may still be on its way
                // (the daemon reads the kernel's subflows again at the deadline).
                if let deadline = d.memory.pending[slot], deadline <= now { joinTimedOut(slot, nil) }
                missing.append((slot, l))
            }
        }
        // Requests for slots no longer wanted are forgotten at their deadline (their
        // half-open subflow, once seen, is destroyed below as unwanted), without a failure.
        let wantedSlots = Set(wanted.map(\.0))
        for (slot, deadline) in d.memory.pending where deadline <= now && !wantedSlots.contains(slot) {
            d.memory.pending[slot] = nil
        }
        if c.side == .server {
            // The client's joins stay; they are steered like our own once established.
            for s in unmatched where s.carriesTraffic {
                if let l = usable[s.local.address] { kept.append((s, l)) }
            }
            unmatched = []
        }
        // Hand-made subflows stay as the operator made them (not steered either).
        unmatched.removeAll { d.memory.manual.contains(ConnectionMemory.ManualSubflow(local: $0.local.address, remote: $0.remote)) }
        for s in unmatched {
            let why = !s.carriesTraffic && wantedSlots.contains(where: { $0.local == s.local.address && $0.remote == s.remote.address && $0.remotePort == s.remote.port })
                ? "a second join for a path that has one"
                : role(of: s) == .handover ? "handover subflow no longer needed" : "not wanted by \(p.name) (\(p.strategy.rawValue), max_subflows \(p.maxSubflows))"
            d.actions.append(.destroy(s, reason: why))
        }

        // 5. Backup flags by mode, with promotion when no primary is left.
        let promoteCandidates = kept.filter { $0.1.role != .active }.map(\.0)
        for (s, l) in kept {
            var backup = l.role != .active
            if p.mode == .aggregate && l.role == .backup { backup = true }
            if d.memory.promoted.contains(s.local) {
                if primaryHeld {
                    d.memory.promoted.remove(s.local)
                    d.events.append("demoted \(s.local) back to backup: primary up for \(p.failbackHoldMilliseconds) ms")
                } else {
                    backup = false
                }
            }
            if backup != s.backup { d.actions.append(.setBackup(s, backup: backup, reason: "\(l.interfaceName) is \(l.role.rawValue)")) }
        }
        if p.mode == .activeBackup && !primaryUp && d.memory.promoted.isEmpty, let best = promoteCandidates.first {
            d.memory.promoted.insert(best.local)
            d.actions.removeAll { if case .setBackup(let s, _, _) = $0 { return s == best } else { return false } }
            d.actions.append(.setBackup(best, backup: false, reason: "promoted: no primary subflow left"))
            d.events.append("promoted \(best.local) to primary: no active subflow left")
        }

        // Failback needs a decision once the hold has passed, even if nothing else happens.
        if (!d.memory.promoted.isEmpty || d.memory.handoverActive), let since = d.memory.primaryUpSince, !primaryHeld {
            d.memory.failbackAt = since + p.failbackHoldMilliseconds
        } else {
            d.memory.failbackAt = nil
        }

        // 6. Create what is missing, unless pending or backing off.
        var used = Set(c.localIDs.values).union(c.announcedLocal.values)
        for s in c.subflows { used.insert(s.localID) }
        var assigned = c.localIDs.merging(c.announcedLocal) { known, _ in known }
        /// The id this connection already binds `address` to, else the lowest free one (nil: all 255 taken).
        func localID(for address: IPAddress) -> UInt8? {
            if let known = assigned[address] { return known }
            guard let free = AddressID.lowestFree(excluding: used) else { return nil }
            used.insert(free)
            assigned[address] = free
            return free
        }
        for (slot, l) in missing {
            if d.memory.pending[slot] != nil { continue }
            if let f = d.memory.failures[slot] {
                if !p.retry.allowsRetry(after: f.attempts) || f.nextAttempt > now { continue }
            }
            guard let id = slot.local == c.local.address ? 0 : localID(for: slot.local) else { continue }
            let backup = l.role != .active
            d.memory.pending[slot] = now + timeout
            d.actions.append(.create(slot: slot, localID: id, interfaceIndex: l.interfaceIndex, backup: backup,
                                     reason: "\(p.name): \(p.strategy.rawValue) via \(l.interfaceName) (\(l.role.rawValue))"))
        }

        // 7. Server side: announce the addresses of `announce = true` interfaces
        //    where an MPTCP listener accepts the join on the announced port
        //    (`announce_port`, else the connection's).
        if c.side == .server, let listeners {
            for l in locals where l.flags.contains(.signal) && l.address != c.local.address && c.announcedLocal[l.address] == nil {
                if withdrawn.values.contains(l.address) { continue }
                let port = AnnouncementListeners.port(for: l, policy: context.policy, connection: c)
                guard listeners.contains(where: { $0.accepts(l.address, port: port, interface: l.interfaceIndex) }) else {
                    if d.memory.unannounceable.insert(l.address).inserted {
                        d.refusedAnnouncements.append((l.address, "no MPTCP listener accepts joins to \(AddressAndPort(address: l.address, port: port))"))
                    }
                    continue
                }
                d.memory.unannounceable.remove(l.address)
                guard let id = localID(for: l.address) else { continue }
                d.actions.append(.announce(id: id, address: l.address, port: port == c.local.port ? 0 : port, interfaceIndex: l.interfaceIndex,
                                           reason: "\(l.interfaceName) is \(l.role.rawValue) and announced"))
            }
        }
        return d
    }

    /// The half-open subflow of a timed-out join could not be destroyed (any answer
    /// but "no such subflow"): it still holds its slot, so the slot is pending again
    /// for another `join_timeout` rather than asked for beside it. The timeout stays
    /// counted as a failure.
    public static func destroyFailed(_ timeout: ConnectionDecision.JoinTimeout, policy p: ConnectionPolicy,
                                     memory: inout ConnectionMemory, now: Int) {
        memory.pending[timeout.slot] = now + p.retry.joinTimeoutMilliseconds
    }

    /// The slot a SUB_CLOSED reports failed (to back off), or nil when nothing failed.
    /// An established subflow closing is a path going, never another request's
    /// failed join: closed cleanly, it is asked for again at once; reset with an
    /// error, its own slot backs off (a peer that resets every join is not asked
    /// again in a loop). A join that never completed reports remote port 0: its port
    /// is then the one of the half-open subflow with that local address and port, if
    /// seen, else any pending request between the two addresses (the oldest) matches.
    /// A close matching no request and carrying no error is nothing asked for.
    /// - Parameters: `local`, `remote`, `error`: the event's; `c`: the connection
    ///   before the closed subflow is removed from it.
    public static func failedSlot(local: AddressAndPort, remote: AddressAndPort, error: Int32,
                                  connection c: ConnectionView, memory m: ConnectionMemory) -> SubflowSlot? {
        let seen = c.subflows.first { $0.local == local && $0.remote.address == remote.address }
        if let seen, seen.carriesTraffic {
            guard error != 0, !isInitial(seen, c) else { return nil }
            let own = SubflowSlot(local: local.address, remote: remote.address, remotePort: seen.remote.port, index: 0)
            return m.pending[own] == nil ? own : nil
        }
        let port: UInt16? = remote.port != 0 ? remote.port : seen?.remote.port
        let requested = m.pending.filter { request in
            request.key.local == local.address && request.key.remote == remote.address && (port.map { request.key.remotePort == $0 } ?? true)
        }
        if let oldest = requested.min(by: { ($0.value, $0.key) < ($1.value, $1.key) }) { return oldest.key }
        guard error != 0 else { return nil }
        return SubflowSlot(local: local.address, remote: remote.address, remotePort: port ?? 0, index: 0)
    }

    /// A creation failed (SUB_CLOSED with an error, or its join timed out): back off.
    public static func recordFailure(_ slot: SubflowSlot, policy p: ConnectionPolicy, memory: inout ConnectionMemory, now: Int, jitter: Double) {
        var f = memory.failures[slot] ?? ConnectionMemory.Failure(attempts: 0, nextAttempt: now)
        f.attempts += 1
        f.nextAttempt = now + p.retry.delay(attempt: f.attempts, jitter: jitter)
        memory.failures[slot] = f
        memory.pending[slot] = nil
    }

    static func isInitial(_ s: SubflowView, _ c: ConnectionView) -> Bool {
        s.local == c.local && s.remote == c.remote
    }

    static func usableInitial(_ c: ConnectionView, _ network: NetworkSnapshot) -> Bool {
        guard let i = c.initialInterface, let link = network.link(i) else { return true }
        return link.isUsable && network.addresses.contains { $0.address == c.local.address }
    }
}
