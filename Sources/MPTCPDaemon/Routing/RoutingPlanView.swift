import MPTCPKit
import MPTCPPolicy

/// The routing part of `mptcpctld --plan` and `policy.plan`: what the routing
/// owner would change now (its plan after forgetting what vanished, as a pass
/// makes it), in the same rows and JSON changes as the endpoint changes, and
/// the planner's notes.
struct RoutingPlanView {
    let plan: RoutingPlan
    let words: RoutingWords

    /// Reads the routing state now and plans as the owner's next pass would.
    init(kernel: RoutingKernel, owned: RoutingOwnership, policy: Policy, network: NetworkSnapshot,
         health: PathHealthView = .none) throws {
        let state = try kernel.observe(network)
        let gone = owned.vanished(from: state.network)
        let owned = owned.dropping(rules: gone.rules, routes: gone.routes)
        // With mode = "off" the planner's plan is the removal of what is owned.
        plan = RoutingPlanner.plan(policy: policy, network: state.network, reversePathFilter: state.reversePathFilter, owned: owned,
                                   health: health)
        words = RoutingWords(network: state.network, tables: owned.tables.merging(plan.ownership.tables) { _, new in new })
    }

    /// The text rows: `add rule  from 10.2.1.2 lookup 20001 priority 10001 (eth2)  # why`.
    var rows: [[String]] {
        plan.changes.map { [RoutingWords.action($0), words.subject($0), "# " + $0.reason] }
    }

    /// `note: eth2 (IPv4): no gateway known …`.
    var noteLines: [String] { plan.notes.map { "note: \($0.message)" } }

    /// A rule as `policy.plan` and `status` show it.
    struct RuleJSON: Encodable {
        var family: String
        var source: String
        var table: UInt32
        var priority: UInt32
        /// The suppress rule's (`from all lookup main suppress_prefixlength 0`); absent on source rules.
        var suppressPrefixLength: UInt32?
        var interface: String?

        enum CodingKeys: String, CodingKey {
            case family, source, table, priority, suppressPrefixLength = "suppress_prefix_length", interface
        }
    }

    /// A route as `policy.plan` and `status` show it.
    struct RouteJSON: Encodable {
        var family: String
        var table: UInt32
        var destination: String
        var gateway: String?
        var interface: String?
        var source: String?
        var scope: String
        /// The gateway is on the link without a connected route holding it (`onlink`).
        var onlink: Bool
    }

    /// A planner's note: the interface, the family, the key that would fix it.
    struct NoteJSON: Encodable {
        var interface: String
        var family: String?
        var key: String?
        var message: String
    }

    func rule(_ r: RoutingRule) -> RuleJSON {
        RuleJSON(family: RoutingWords.family(r.family), source: RoutingWords.prefix(r.source, r.sourcePrefixLength),
                 table: r.table, priority: r.priority, suppressPrefixLength: r.suppressPrefixLength, interface: words.interface(of: r))
    }

    func route(_ r: Route) -> RouteJSON {
        RouteJSON(family: RoutingWords.family(r.family), table: r.table,
                  destination: r.isDefault ? "default" : RoutingWords.prefix(r.destination, r.destinationPrefixLength),
                  gateway: r.gateway?.description, interface: words.interface(of: r), source: r.preferredSource?.description,
                  scope: r.scope == Route.scopeLink ? "link" : r.scope == Route.scopeHost ? "host" : "global", onlink: r.onLink)
    }

    var notes: [NoteJSON] {
        plan.notes.map { NoteJSON(interface: $0.interface, family: $0.family?.rawValue, key: $0.key, message: $0.message) }
    }
}
