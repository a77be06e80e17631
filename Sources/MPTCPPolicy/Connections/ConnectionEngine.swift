import MPTCPKit

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
    /// With a health view, a `down` path's addresses are withdrawn from every
    /// connection (or its subflows set backup), a `degraded` one's set backup
    /// (`PathSteering`).
    public struct Context: Sendable {
        public let policy: Policy
        public let network: NetworkSnapshot
        /// The paths' health these decisions steer by.
        public let health: PathHealthView
        let candidates: [Candidate]
        let usable: [IPAddress: Candidate]
        let handoverInterfaces: Bool
        /// Addresses path health withdraws, with why: even a connection's initial
        /// subflow goes from them (the address is withdrawn with id 0).
        let withdrawnByHealth: [IPAddress: String]

        public init(policy: Policy, network: NetworkSnapshot, health: PathHealthView = .none) {
            self.policy = policy
            self.network = network
            self.health = health
            var ignored: [IPAddress: String] = [:]
            let steered = PathSteering.steer(Planner.unsteeredEndpoints(policy: policy, network: network, excluded: &ignored),
                                             health: health)
            candidates = steered.endpoints
            withdrawnByHealth = steered.withdrawn
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
        var steps = DecisionSteps(context, connection: c, memory: memory, now: now, jitter: jitter)
        steps.withdrawUnusableAddresses()
        steps.rebuildHealed()
        steps.steer()
        steps.chooseSlots()
        steps.matchSubflows(subflowsKnown: subflowsKnown)
        steps.destroyUnwanted()
        steps.setBackupFlags()
        steps.createMissing()
        if let listeners { steps.announce(listeners: listeners) }
        return steps.d
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

    static func usableInitial(_ c: ConnectionView, _ context: Context) -> Bool {
        if context.withdrawnByHealth[c.local.address] != nil { return false }
        guard let i = c.initialInterface, let link = context.network.link(i) else { return true }
        return link.isUsable && context.network.addresses.contains { $0.address == c.local.address }
    }
}
