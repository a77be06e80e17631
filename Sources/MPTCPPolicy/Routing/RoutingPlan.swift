/// The difference between the policy's source routing and the namespace's:
/// the changes in the order to apply them, what cannot be done and why, and
/// what the daemon owns once the changes are applied.
public struct RoutingPlan: Hashable, Sendable {
    /// Removals of rules, then of routes, then rp_filter restores and sets, then
    /// route additions, then rule additions: a rule never points at a table
    /// still missing its routes, and a route goes only after the rules using it.
    public var changes: [RoutingChange]
    public var notes: [RoutingNote]
    public var ownership: RoutingOwnership

    public init(changes: [RoutingChange] = [], notes: [RoutingNote] = [], ownership: RoutingOwnership = .init()) {
        self.changes = changes
        self.notes = notes
        self.ownership = ownership
    }

    public var isEmpty: Bool { changes.isEmpty }
}

/// Something the routing plan cannot do, for `plan`, `doctor` and the log.
public struct RoutingNote: Hashable, Sendable, CustomStringConvertible {
    public var interface: String
    /// The family concerned, if one.
    public var family: AddressFamily?
    /// The policy key that would fix it (`interface[2].gateway`), if one.
    public var key: String?
    /// "eth2 (IPv4): no gateway known ...".
    public var message: String

    public init(interface: String, family: AddressFamily? = nil, key: String? = nil, message: String) {
        self.interface = interface
        self.family = family
        self.key = key
        self.message = message
    }

    public var description: String { message }
}
