import MPTCPKit

extension ConnectionTracker {
    /// What became of a connection once a command's outcome was settled.
    public enum Settlement: Hashable, Sendable {
        /// Still tracked.
        case kept
        /// Gone (its CLOSED event still queued, or lost): forgotten; send nothing
        /// more for it.
        case forgotten
    }

    /// Settles a command of `decide` at `now` (ms). For a withdrawal
    /// (`removeAddress`), `outcome` is the REMOVE's and `subflowOutcomes` those of
    /// the destroys of its subflows, in order (fewer when one found the
    /// connection gone).
    @discardableResult
    public mutating func settle(_ planned: PlannedAction, _ outcome: CommandOutcome, subflowOutcomes: [CommandOutcome] = [],
                                now: Int) -> Settlement {
        let token = planned.token
        guard var entry = connections[token] else { return .forgotten }
        if outcome == .connectionGone || subflowOutcomes.contains(.connectionGone) {
            forget(token)
            return .forgotten
        }
        switch planned.action {
        case .create:
            break  // settled in batches: `settle(creates:)`
        case .destroy(let s, _):
            if outcome == .sent || outcome.subflowAlreadyGone {
                // Closed (or closed meanwhile): its SUB_CLOSED, if still queued, is no failure.
                entry.view.subflows.removeAll { $0 == s }
                entry.closing.insert(ClosingSubflow(local: s.local, remote: s.remote.address))
            } else if let timeout = planned.joinTimeout {
                // Still there: a timed-out join keeps its slot (no second join beside it).
                ConnectionEngine.destroyFailed(timeout, policy: planned.policy, memory: &entry.memory, now: now)
            }
        case .removeAddress(_, let address, let subflows, _):
            // A subflow whose destroy was refused stays in the view: the next decision withdraws it again.
            var alive: [SubflowView] = []
            for (s, o) in zip(subflows, subflowOutcomes) {
                if o == .sent || o.subflowAlreadyGone {
                    entry.closing.insert(ClosingSubflow(local: s.local, remote: s.remote.address))
                } else {
                    alive.append(s)
                }
            }
            entry.view.subflows.removeAll { subflows.contains($0) && !alive.contains($0) }
            entry.view.announcedLocal[address] = nil
        case .announce(let id, let address, _, _, _):
            // Refused, it is not retried until something changes: the view says it was tried.
            entry.view.announcedLocal[address] = id
        case .setBackup(let s, let backup, _):
            // Refused, it is not asked again on every event of this connection: the view
            // takes the wanted priority, and the subflow's next change is decided afresh.
            if let i = entry.view.subflows.firstIndex(of: s) { entry.view.subflows[i].backup = backup }
            entry.wantedBackup[s.local.address] = backup
        }
        connections[token] = entry
        schedule(token, now: now)
        return .kept
    }

    /// A creation's settled outcome, for the log, the counters and the events.
    public struct SettledCreate: Hashable, Sendable {
        public var create: PendingCreate
        public var outcome: CommandOutcome
    }

    /// Settles a batch of creations (`takeCreates`) with the kernel's answers, in
    /// order: a connection not yet established waits for its event (its memory as
    /// before the decision), one of the in-kernel path manager is left alone, a
    /// gone one is forgotten (the rest of its creations are then skipped), any
    /// other refusal backs off. Returns what was settled.
    public mutating func settle(creates: [PendingCreate], _ outcomes: [CommandOutcome], now: Int) -> [SettledCreate] {
        var settled: Set<UInt32> = []
        var touched: Set<UInt32> = []
        var result: [SettledCreate] = []
        for (q, outcome) in zip(creates, outcomes) {
            let token = q.token
            guard !settled.contains(token), var entry = connections[token] else { continue }
            touched.insert(token)
            result.append(SettledCreate(create: q, outcome: outcome))
            switch outcome {
            case .sent:
                if q.localID != 0 { entry.view.localIDs[q.slot.local] = q.localID }
            case .notYetEstablished:
                // Adopted from sock_diag before MPTCP is fully established (no data
                // acked yet): wait for its ESTABLISHED event; nothing failed.
                settled.insert(token)
                entry.memory = q.previousMemory
                entry.established = false
            case .otherPathManager:
                settled.insert(token)
                entry.foreign = true
            case .connectionGone:
                settled.insert(token)
                forget(token)
                continue
            case .refused:
                ConnectionEngine.recordFailure(q.slot, policy: q.policy, memory: &entry.memory, now: now, jitter: jitter.unit())
            }
            connections[token] = entry
        }
        for token in touched { schedule(token, now: now) }
        return result
    }
}
