import MPTCPKit

extension ConnectionTracker {
    /// What an event did to the table.
    public struct EventEffect: Hashable, Sendable {
        /// Connections to decide again.
        public var touched: [UInt32] = []
        /// A listener came or went: where a join can land changed.
        public var listenersChanged = false
        /// A subflow established (for the counters).
        public var subflowEstablished = false
        /// A subflow failed and its slot backs off (for the log and the counters).
        public var failure: SubflowFailureNote?
    }

    /// Folds one `mptcp_pm` event into the table at `now` (ms).
    public mutating func apply(_ e: Event, now: Int) -> EventEffect {
        var effect = EventEffect()
        if e.type == .listenerCreated || e.type == .listenerClosed {
            // Server connections on that port decide again.
            effect.listenersChanged = true
            effect.touched = connections.filter { $0.value.view.side == .server && $0.value.view.local.port == e.localPort }.map(\.key)
            return effect
        }
        guard let token = e.token else { return effect }
        switch e.type {
        case .created, .established:
            if connections[token] == nil, let l = e.localAddress, let r = e.remoteAddress {
                var view = ConnectionView(token: token, side: e.isServerSide ? .server : .client,
                                          local: AddressAndPort(address: l, port: e.localPort ?? 0),
                                          remote: AddressAndPort(address: r, port: e.remotePort ?? 0),
                                          initialInterface: context.network.addresses.first { $0.address == l }?.interfaceIndex)
                view.denyJoinID0 = e.denyJoinID0
                view.subflows = [SubflowView(local: view.local, remote: view.remote, localID: 0, backup: false,
                                             interfaceIndex: view.initialInterface ?? 0)]
                connections[token] = TrackedConnection(view: view)
            }
            if e.type == .established {
                connections[token]?.established = true
                effect.touched = [token]
            }
        case .closed:
            connections[token] = nil
        case .announced:
            guard let a = e.remoteAddress, let id = e.remoteID else { return effect }
            connections[token]?.view.announced.removeAll { $0.id == id }
            connections[token]?.view.announced.append(AnnouncedAddress(id: id, address: a, port: e.remotePort ?? 0))
            effect.touched = [token]
        case .removed:
            connections[token]?.view.announced.removeAll { $0.id == e.remoteID }
            effect.touched = [token]
        case .subflowEstablished:
            guard subflowEstablished(e, token) else { return effect }
            effect.subflowEstablished = true
            effect.touched = [token]
        case .subflowClosed:
            guard connections[token] != nil, e.localAddress != nil, e.remoteAddress != nil else { return effect }
            effect.failure = subflowClosed(e, token, now: now)
            effect.touched = [token]
        default:
            break
        }
        return effect
    }

    private mutating func subflowEstablished(_ e: Event, _ token: UInt32) -> Bool {
        guard let l = e.localAddress, let r = e.remoteAddress, var entry = connections[token] else { return false }
        let s = SubflowView(local: AddressAndPort(address: l, port: e.localPort ?? 0),
                            remote: AddressAndPort(address: r, port: e.remotePort ?? 0),
                            localID: e.localID ?? 0, backup: false, interfaceIndex: e.interfaceIndex ?? 0)
        entry.view.subflows.removeAll { $0.local == s.local && $0.remote == s.remote }
        if let slot = entry.memory.pending.keys.first(where: { $0.local == l && $0.remote == r && $0.remotePort == s.remote.port }) {
            entry.memory.pending[slot] = nil
            entry.memory.failures[slot] = nil
        }
        // Our own backup choice: the event's backup bit is the peer's.
        var made = s
        made.backup = entry.wantedBackup[l] ?? false
        entry.view.subflows.append(made)
        if l != entry.view.local.address, let id = e.localID { entry.view.localIDs[l] = id }
        connections[token] = entry
        return true
    }

    /// Ours (destroyed, withdrawn) is no failure; otherwise the engine tells a
    /// failed join (and whose) from a path that closed, before it leaves the view.
    private mutating func subflowClosed(_ e: Event, _ token: UInt32, now: Int) -> SubflowFailureNote? {
        guard var entry = connections[token], let l = e.localAddress, let r = e.remoteAddress else { return nil }
        let local = AddressAndPort(address: l, port: e.localPort ?? 0)
        let failed = entry.closing.remove(ClosingSubflow(local: local, remote: r)) != nil ? nil
            : ConnectionEngine.failedSlot(local: local, remote: AddressAndPort(address: r, port: e.remotePort ?? 0),
                                          error: Int32(e.error ?? 0), connection: entry.view, memory: entry.memory)
        entry.view.subflows.removeAll { $0.local == local && $0.remote.address == r }
        var note: SubflowFailureNote?
        if let slot = failed {
            let policy = entry.lastPolicy ?? .builtInDefault
            ConnectionEngine.recordFailure(slot, policy: policy, memory: &entry.memory, now: now, jitter: jitter.unit())
            let f = entry.memory.failures[slot]
            note = SubflowFailureNote(token: token, local: "\(local)", remote: "\(r)", error: "\(e.error ?? 0)",
                                      attempt: f?.attempts ?? 0, retryInMilliseconds: (f?.nextAttempt ?? now) - now)
        }
        connections[token] = entry
        return note
    }
}
