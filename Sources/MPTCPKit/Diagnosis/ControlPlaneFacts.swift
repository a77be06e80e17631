/// What `doctor` learnt from mptcpctld over its control API (the CLI asks it; this
/// library does not speak the API): whether one answers, and what its policy
/// decides that the kernel checks depend on.
public struct ControlPlaneFacts: Hashable, Sendable {
    /// Whether a daemon answered on the control socket.
    public enum Reachability: Hashable, Sendable {
        case answers
        /// No socket, or nobody accepting on it: no daemon runs for this namespace.
        case absent(socket: String)
        /// A daemon may run but could not be asked (permission, a garbled answer).
        case unreachable(socket: String, reason: String)
    }

    public var reachability: Reachability
    /// `mptcpctld VERSION, pid PID`, when it answers.
    public var description: String?
    /// The path manager the daemon runs (`status`), when it answers.
    public var pathManager: String?
    /// The daemon runs the userspace path manager (it manages connections itself).
    public var userspacePathManager = false
    /// `[kernel] path_manager` of its policy; nil: it keeps what the kernel has.
    public var policyPathManager: String?
    /// `[kernel] subflows_limit` / `add_addr_accepted_limit` of its policy; nil: keep.
    public var policySubflowsLimit: UInt32?
    public var policyAddAddrAcceptedLimit: UInt32?
    /// `[routing] mode` of its policy (`on`, `off`); nil when the daemon does not say.
    public var routingMode: String?
    /// What the daemon says of the routing it could not make (`status`'s `routing.notes`:
    /// an interface whose gateway is unknown, ...).
    public var routingNotes: [String] = []
    /// The interfaces an `[[interface]]` block uses (a role other than `off`).
    public var managedInterfaces: [String] = []
    /// The paths its health thread judges (`paths`); nil when it could not say
    /// (`pathHealthUnavailable` tells why: no health thread, an older daemon).
    public var paths: [PathHealthFact]?
    /// Why the daemon gave no path health, when it answers but `paths` is nil.
    public var pathHealthUnavailable: String?

    public init(reachability: Reachability) { self.reachability = reachability }

    /// A daemon answered.
    public var answers: Bool { reachability == .answers }

    /// The daemon makes source routing (its policy says `[routing] mode = "on"`).
    public var routesSources: Bool { answers && routingMode == "on" }
}
