import MPTCPKit

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
