import MPTCPKit

extension DecisionSteps {
    /// 5. Backup flags by mode, with promotion when no primary is left, and the
    ///    wake-up failback needs once the hold has passed.
    mutating func setBackupFlags() {
        steerInitialByHealth()
        // A healthy backup is promoted before one path health demoted.
        let backups = kept.filter { $0.1.role != .active }
        let promoteCandidates = (backups.filter { $0.1.health.isUsable } + backups.filter { !$0.1.health.isUsable }).map(\.0)
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
            if backup != s.backup {
                let why = l.health.isUsable ? "\(l.interfaceName) is \(l.role.rawValue)" : l.reason
                d.actions.append(.setBackup(s, backup: backup, reason: why))
            }
        }
        if p.mode == .activeBackup && !primaryUp && d.memory.promoted.isEmpty, let best = promoteCandidates.first {
            d.memory.promoted.insert(best.local)
            d.actions.removeAll { if case .setBackup(let s, _, _) = $0 { return s == best } else { return false } }
            d.actions.append(.setBackup(best, backup: false, reason: "promoted: no primary subflow left"))
            d.events.append("promoted \(best.local) to primary: no active subflow left")
        }
        if (!d.memory.promoted.isEmpty || d.memory.handoverActive), let since = d.memory.primaryUpSince, !primaryHeld {
            d.memory.failbackAt = since + p.failbackHoldMilliseconds
        } else {
            d.memory.failbackAt = nil
        }
    }

    /// The initial subflow has no slot, so the interfaces' roles do not steer it
    /// (it is the connection's, wherever it started); path health does: while
    /// its path is demoted (`PathSteering`: degraded while another path is up,
    /// or down with `on_path_down = "backup"`) it is backup too, like every other
    /// subflow of that path, and active again once the path is not demoted.
    mutating func steerInitialByHealth() {
        guard let s = alive.first(where: { isInitial($0) && $0.carriesTraffic }) else { return }
        let candidate = usable[s.local.address]
        if let l = candidate, !l.health.isUsable, l.flags.contains(.backup) {
            d.memory.initialDemotedByHealth = true
            if !s.backup { d.actions.append(.setBackup(s, backup: true, reason: l.reason)) }
        } else if d.memory.initialDemotedByHealth {
            // Kept until the flag is seen cleared: a refused request is asked again.
            if s.backup {
                let why = candidate.map { "\($0.interfaceName) is \($0.health.rawValue) again" } ?? "its path is no longer demoted"
                d.actions.append(.setBackup(s, backup: false, reason: why))
            } else {
                d.memory.initialDemotedByHealth = false
            }
        }
    }

    /// The per-connection local ids: the one an address already has, else the
    /// lowest free one.
    struct LocalIDs {
        var used: Set<UInt8>
        var assigned: [IPAddress: UInt8]

        init(_ c: ConnectionView) {
            used = Set(c.localIDs.values).union(c.announcedLocal.values)
            for s in c.subflows { used.insert(s.localID) }
            assigned = c.localIDs.merging(c.announcedLocal) { known, _ in known }
        }

        /// The id this connection already binds `address` to, else the lowest free one (nil: all 255 taken).
        mutating func id(for address: IPAddress) -> UInt8? {
            if let known = assigned[address] { return known }
            guard let free = AddressID.lowestFree(excluding: used) else { return nil }
            used.insert(free)
            assigned[address] = free
            return free
        }
    }

    /// 6. Creates what is missing, unless pending or backing off, or on a
    ///    `down` path while another path of its family is not: its SYN would go
    ///    unanswered (the path's subflows kept as backup stay; on healing the
    ///    slot is created at once, `ConnectionTracker.update`).
    mutating func createMissing() {
        var ids = LocalIDs(c)
        let family = { (a: IPAddress) in a.isIPv4 }
        let livingFamilies = Set(context.candidates.filter { $0.health != .down }.map { family($0.address) })
        for (slot, l) in missing {
            if l.health == .down && livingFamilies.contains(family(l.address)) { continue }
            if d.memory.pending[slot] != nil { continue }
            if let f = d.memory.failures[slot] {
                if !p.retry.allowsRetry(after: f.attempts) || f.nextAttempt > now { continue }
            }
            guard let id = slot.local == c.local.address ? 0 : ids.id(for: slot.local) else { continue }
            d.memory.pending[slot] = now + p.retry.joinTimeoutMilliseconds
            d.actions.append(.create(slot: slot, localID: id, interfaceIndex: l.interfaceIndex, backup: l.role != .active,
                                     reason: "\(p.name): \(p.strategy.rawValue) via \(l.interfaceName) (\(l.role.rawValue))"))
        }
        localIDs = ids
    }

    /// 7. Server side: announces the addresses of `announce = true` interfaces
    ///    where an MPTCP listener accepts the join on the announced port
    ///    (`announce_port`, else the connection's).
    mutating func announce(listeners: [Listener]) {
        guard c.side == .server else { return }
        var allowedRoles: Set<Role> = [.active, .backup]
        if d.memory.handoverActive { allowedRoles.insert(.handover) }
        let locals = context.candidates.filter { allowedRoles.contains($0.role) }
        var ids = localIDs ?? LocalIDs(c)
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
            guard let id = ids.id(for: l.address) else { continue }
            d.actions.append(.announce(id: id, address: l.address, port: port == c.local.port ? 0 : port, interfaceIndex: l.interfaceIndex,
                                       reason: "\(l.interfaceName) is \(l.role.rawValue) and announced"))
        }
    }
}
