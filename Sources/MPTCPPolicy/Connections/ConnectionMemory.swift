import MPTCPKit

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
    /// The initial subflow was set backup because path health demoted its path
    /// (degraded, or down with `on_path_down = "backup"`): made active again once
    /// it is not. A backup flag set by anyone else stays as it is.
    public var initialDemotedByHealth = false

    /// Subflows (by local address and port) on a path that healed while they
    /// were kept (`on_path_down = "backup"`, or the last path of a family): their
    /// retransmission timer backed off through the outage, so the next decision
    /// destroys them and makes them again (`ConnectionTracker.update`).
    public var rebuild: Set<AddressAndPort> = []

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
