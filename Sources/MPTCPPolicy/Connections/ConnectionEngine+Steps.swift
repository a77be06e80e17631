import MPTCPKit

/// One decision of `ConnectionEngine.decide`, step by step: what each step
/// finds (the live and dead subflows, the wanted slots, the matches) is kept
/// here for the steps after it.
struct DecisionSteps {
    typealias Candidate = ConnectionEngine.Candidate

    let context: ConnectionEngine.Context
    let c: ConnectionView
    let p: ConnectionPolicy
    let now: Int
    let jitter: Double
    var d: ConnectionDecision
    /// Subflows on usable addresses, and the others by local id.
    var alive: [SubflowView] = []
    var dead: [UInt8: [SubflowView]] = [:]
    /// Local ids withdrawn by this decision, with their address.
    var withdrawn: [UInt8: IPAddress] = [:]
    var primaryUp = false
    var primaryHeld = false
    /// The slots the strategy wants, best first, and how each ends up.
    var wanted: [(SubflowSlot, Candidate)] = []
    var unmatched: [SubflowView] = []
    var missing: [(SubflowSlot, Candidate)] = []
    var kept: [(SubflowView, Candidate)] = []
    /// The ids handed out by `createMissing`, which `announce` goes on from.
    var localIDs: LocalIDs?

    init(_ context: ConnectionEngine.Context, connection: ConnectionView, memory: ConnectionMemory, now: Int, jitter: Double) {
        self.context = context
        c = connection
        p = ConnectionEngine.policy(for: connection, policy: context.policy, network: context.network)
        self.now = now
        self.jitter = jitter
        d = ConnectionDecision(policy: p, memory: memory)
    }

    var usable: [IPAddress: Candidate] { context.usable }

    func isInitial(_ s: SubflowView) -> Bool { ConnectionEngine.isInitial(s, c) }

    func role(of s: SubflowView) -> Role {
        usable[s.local.address]?.role ?? (isInitial(s) ? .active : .off)
    }

    /// 1. Addresses no longer usable (link or address down, role off) are withdrawn
    ///    with their subflows, one REMOVE per local id; so are announcements of
    ///    addresses that went (or are no longer to be announced).
    mutating func withdrawUnusableAddresses() {
        let network = context.network
        for s in c.subflows {
            if usable[s.local.address] == nil && !(isInitial(s) && ConnectionEngine.usableInitial(c, context)) {
                dead[s.localID, default: []].append(s)
            } else {
                alive.append(s)
            }
        }
        for (id, subflows) in dead { withdrawn[id] = subflows[0].local.address }
        for (address, id) in c.announcedLocal where !(usable[address]?.flags.contains(.signal) ?? false) {
            withdrawn[id] = address
        }
        for (id, address) in withdrawn.sorted(by: { $0.key < $1.key }) {
            let subflows = dead[id] ?? []
            let name = (subflows.first?.interfaceIndex).flatMap { network.link($0)?.name }
            let why = context.withdrawnByHealth[address].map { ": " + $0 }
                ?? (usable[address] == nil ? " is no longer usable" : " is no longer announced")
            d.actions.append(.removeAddress(id: id, address: address, subflows: subflows,
                                            reason: "\(address)\(name.map { " (" + $0 + ")" } ?? "")\(why)"))
        }
    }

    /// 1b. Subflows kept through an outage of a path that healed since
    ///     (`memory.rebuild`) are destroyed: their retransmission timer backed off
    ///     while the path was down, so they would carry nothing until their next
    ///     retransmission (seconds to minutes). Out of `alive`, their slots are
    ///     missing and created anew by this decision, with the backup flag wanted
    ///     now. A server leaves them to the client, which made them; hand-made ones
    ///     stay as the operator made them. The initial subflow is rebuilt only
    ///     where the strategy makes its pair again (fullmesh, per-interface), and
    ///     nothing is destroyed unless a subflow that carries traffic stays: a
    ///     connection is never left without one, whatever its path went through.
    mutating func rebuildHealed() {
        guard !d.memory.rebuild.isEmpty else { return }
        defer { d.memory.rebuild = [] }
        guard c.side == .client else { return }
        let remakesInitial = p.strategy == .fullmesh || p.strategy == .perInterface
        let rebuild = d.memory.rebuild, manual = d.memory.manual, connection = c
        let stale = { (s: SubflowView) in
            rebuild.contains(s.local) && (remakesInitial || !ConnectionEngine.isInitial(s, connection))
                && !manual.contains(ConnectionMemory.ManualSubflow(local: s.local.address, remote: s.remote))
        }
        guard alive.contains(where: { $0.carriesTraffic && !stale($0) }) else { return }
        var kept: [SubflowView] = []
        for s in alive {
            guard stale(s) else {
                kept.append(s)
                continue
            }
            let name = context.network.link(s.interfaceIndex)?.name ?? usable[s.local.address]?.interfaceName ?? "its interface"
            d.actions.append(.destroy(s, reason: "rebuilt: the path of \(s.local.address) (\(name)) healed, and this subflow, "
                + "kept through the outage, waits on a backed-off retransmission timer; made again at once"))
            // A join still under way from the outage is asked for again too.
            d.memory.pending = d.memory.pending.filter { slot, _ in
                !(slot.local == s.local.address && slot.remote == s.remote.address && slot.remotePort == s.remote.port)
            }
        }
        alive = kept
    }

    /// 2. Steering state: is a primary (non-backup, active-role) path up? A join
    ///    still under way is no path. Handover subflows open when none is, and
    ///    close once one has been back for `failback_hold`.
    mutating func steer() {
        primaryUp = alive.contains { $0.carriesTraffic && role(of: $0) == .active && !$0.backup }
        if primaryUp {
            if d.memory.primaryUpSince == nil { d.memory.primaryUpSince = now }
        } else {
            d.memory.primaryUpSince = nil
        }
        primaryHeld = d.memory.primaryUpSince.map { now - $0 >= p.failbackHoldMilliseconds } ?? false
        guard p.mode == .handover || context.handoverInterfaces else { return }
        if !primaryUp && !d.memory.handoverActive {
            d.memory.handoverActive = true
            d.events.append("handover: no active path left, opening handover subflows")
        } else if d.memory.handoverActive && primaryHeld {
            d.memory.handoverActive = false
            d.events.append("handover: active path back for \(p.failbackHoldMilliseconds) ms, closing handover subflows")
        }
    }

    /// 3. The slots the strategy wants, best first, capped at max_subflows. A
    ///    server opens no subflows (the client's side would have to accept the
    ///    join): it announces its addresses instead, and steers what the client made.
    mutating func chooseSlots() {
        var allowedRoles: Set<Role> = [.active, .backup]
        if d.memory.handoverActive { allowedRoles.insert(.handover) }
        let locals = context.candidates.filter { allowedRoles.contains($0.role) }
        var remotes: [AddressAndPort] = c.denyJoinID0 ? [] : [c.remote]
        for a in c.announced { remotes.append(AddressAndPort(address: a.address, port: a.port == 0 ? c.remote.port : a.port)) }
        switch c.side == .server ? .single : p.strategy {
        case .single:
            break
        case .fullmesh:
            // The initial pair has its path, as long as the initial subflow lives (a rebuild may have destroyed it).
            let initialAlive = alive.contains(where: isInitial)
            for l in locals {
                for r in remotes where r.address.isIPv4 == l.address.isIPv4 {
                    if l.address == c.local.address && r == c.remote && initialAlive { continue }
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
            if let target = remotes.first(where: { $0.address.isIPv4 == c.remote.address.isIPv4 }) {
                var seen: Set<Int32> = []
                // The initial interface already has its path, as long as the initial subflow lives.
                if let i = c.initialInterface, alive.contains(where: isInitial) { seen.insert(i) }
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
        wanted = Array(wanted.prefix(p.maxSubflows + (alive.contains(where: isInitial) ? 0 : 1)))
    }

    /// 4. Matches existing subflows (other than the initial one) to slots;
    ///    established ones first, so that a half-open duplicate of a working path
    ///    is left over. A half-open subflow (its join unanswered) makes its slot
    ///    pending, not missing: it is never requested twice. Past `join_timeout`
    ///    it is destroyed and the slot fails and backs off.
    mutating func matchSubflows(subflowsKnown: Bool) {
        let others = alive.filter { !isInitial($0) }
        unmatched = others.filter(\.carriesTraffic) + others.filter { !$0.carriesTraffic }
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
                let deadline = d.memory.pending[slot] ?? now + p.retry.joinTimeoutMilliseconds
                if deadline <= now { joinTimedOut(slot, s, subflowsKnown: subflowsKnown) } else { d.memory.pending[slot] = deadline }
            } else {
                // Requested, and no socket seen: the request may still be on its way
                // (the daemon reads the kernel's subflows again at the deadline).
                if let deadline = d.memory.pending[slot], deadline <= now { joinTimedOut(slot, nil, subflowsKnown: subflowsKnown) }
                missing.append((slot, l))
            }
        }
        // Requests for slots no longer wanted are forgotten at their deadline (their
        // half-open subflow, once seen, is destroyed as unwanted), without a failure.
        let wantedSlots = Set(wanted.map(\.0))
        for (slot, deadline) in d.memory.pending where deadline <= now && !wantedSlots.contains(slot) {
            d.memory.pending[slot] = nil
        }
    }

    /// A join past its deadline: its half-open subflow (if seen) is destroyed and
    /// the slot backs off, unless the subflows could not be read (unseen is not
    /// absent: look again before counting it failed).
    private mutating func joinTimedOut(_ slot: SubflowSlot, _ s: SubflowView?, subflowsKnown: Bool) {
        guard subflowsKnown else {
            d.memory.pending[slot] = now + ConnectionEngine.subflowRecheckMilliseconds
            return
        }
        if let s {
            d.actions.append(.destroy(s, reason: "join to \(s.remote) not answered within \(p.retry.joinTimeoutMilliseconds) ms: retried after the backoff"))
        }
        ConnectionEngine.recordFailure(slot, policy: p, memory: &d.memory, now: now, jitter: jitter)
        d.joinTimeouts.append(.init(slot: slot, subflow: s))
    }

    /// 4b. Subflows no slot wants are destroyed; on a server the client's joins
    ///     stay (steered like our own once established), and hand-made ones stay
    ///     as the operator made them.
    mutating func destroyUnwanted() {
        if c.side == .server {
            for s in unmatched where s.carriesTraffic {
                if let l = usable[s.local.address] { kept.append((s, l)) }
            }
            unmatched = []
        }
        unmatched.removeAll { d.memory.manual.contains(ConnectionMemory.ManualSubflow(local: $0.local.address, remote: $0.remote)) }
        let wantedSlots = Set(wanted.map(\.0))
        for s in unmatched {
            let why = !s.carriesTraffic && wantedSlots.contains(where: { $0.local == s.local.address && $0.remote == s.remote.address && $0.remotePort == s.remote.port })
                ? "a second join for a path that has one"
                : role(of: s) == .handover ? "handover subflow no longer needed" : "not wanted by \(p.name) (\(p.strategy.rawValue), max_subflows \(p.maxSubflows))"
            d.actions.append(.destroy(s, reason: why))
        }
    }
}
