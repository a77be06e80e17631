/// A kernel built without policy routing (`CONFIG_FIB_RULES`) has no rules to
/// send a source to its table: the planner plans no routing there, and says so
/// once, instead of a pass that fails on every try.
extension RoutingPlanner {
    /// No changes, what is owned kept as recorded, and the one note that names
    /// the kernel option and the key that silences it.
    static func withoutPolicyRouting(owned: RoutingOwnership) -> RoutingPlan {
        RoutingPlan(changes: [], notes: [noPolicyRoutingNote], ownership: owned)
    }

    /// "this kernel has no policy routing (CONFIG_FIB_RULES); source routing is off — …".
    public static let noPolicyRoutingNote = RoutingNote(
        interface: "all", key: "routing.mode",
        message: "this kernel has no policy routing (CONFIG_FIB_RULES); source routing is off — "
            + "build it in or set [routing] mode = \"off\"")
}
