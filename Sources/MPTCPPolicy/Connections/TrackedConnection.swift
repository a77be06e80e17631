import MPTCPKit

/// One connection of the userspace path manager, as the tracker keeps it
/// between events: what the engine sees, what it remembers, and the daemon's
/// own bookkeeping around its commands.
public struct TrackedConnection: Hashable, Sendable {
    public internal(set) var view: ConnectionView
    public internal(set) var memory = ConnectionMemory()
    /// Its ESTABLISHED came (or it was adopted established): only then is it decided.
    public internal(set) var established = false
    /// Our own backup choice per local address (events carry the peer's).
    var wantedBackup: [IPAddress: Bool] = [:]
    /// The policy it was last decided under.
    public internal(set) var lastPolicy: ConnectionPolicy?
    /// Created under the in-kernel path manager: the kernel refuses userspace commands on it.
    public internal(set) var foreign = false
    /// When a pending creation expires, a retry is due or failback is (ms), if ever.
    var wake: Int?
    /// Subflows this daemon closed (destroyed, or withdrawn with their address)
    /// whose SUB_CLOSED has not come yet: their close (ECONNRESET) is no failure.
    var closing: Set<ClosingSubflow> = []

    init(view: ConnectionView) {
        self.view = view
    }

    /// Decided by the policy: established and ours.
    public var isManaged: Bool { established && !foreign }
}

/// A subflow by its local address and port and its peer's address: SUB_CLOSED
/// of a join that never established carries remote port 0.
struct ClosingSubflow: Hashable, Sendable {
    var local: AddressAndPort
    var remote: IPAddress
}

/// A subflow creation decided and not yet sent: creations are sent together,
/// one datagram per batch, after every decision of a batch of events.
public struct PendingCreate: Hashable, Sendable {
    public var token: UInt32
    public var slot: SubflowSlot
    public var localID: UInt8
    public var interfaceIndex: Int32
    public var backup: Bool
    public var reason: String
    public var policy: ConnectionPolicy
    /// The slot's failure before this request, when it is a retry.
    public var previousFailure: ConnectionMemory.Failure?
    /// The connection's memory before the decision, restored if it turns out not established.
    var previousMemory: ConnectionMemory

    /// The peer's address and port.
    public var remote: AddressAndPort { AddressAndPort(address: slot.remote, port: slot.remotePort) }
}

/// A command the tracker decided for a connection (all but creations), with
/// what its settlement needs and what the log says about it.
public struct PlannedAction: Hashable, Sendable {
    public var token: UInt32
    public var action: ConnectionAction
    public var policy: ConnectionPolicy
    /// For the destroy of a timed-out join's half-open subflow.
    var joinTimeout: ConnectionDecision.JoinTimeout?
}

/// A subflow that failed: a join closed with an error, or one not answered in time.
public struct SubflowFailureNote: Hashable, Sendable {
    public var token: UInt32
    public var local: String
    public var remote: String
    /// The kernel's error number, or "join timed out".
    public var error: String
    /// For a timed-out join: the policy's `retry.join_timeout`.
    public var timeoutMilliseconds: Int?
    public var attempt: Int
    public var retryInMilliseconds: Int
}
