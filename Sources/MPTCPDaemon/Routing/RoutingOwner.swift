import Logging
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy

/// Takes the namespace's source routing to the policy (`[routing]`): reads the
/// rules, routes and rp_filter values, plans with `RoutingPlanner`, applies
/// each change in the plan's order, and records what it made before making it
/// (in the ownership record's `routing` part), exactly as the reconciler does
/// for endpoints. Touches only rules and routes marked as mptcpctld's (`proto
/// 242`: recorded, or adopted by the planner) and the rp_filter values it
/// recorded. Owned by the endpoint thread,
/// which serialises every call; reaches the kernel only through `RoutingKernel`.
final class RoutingOwner: @unchecked Sendable {
    /// What this daemon (or the run it adopted) made, and the rp_filter values it found.
    private(set) var owned: RoutingOwnership
    /// The last plan's notes (a missing gateway…), for `status`.
    private(set) var notes: [String] = []
    let kernel: RoutingKernel
    let store: OwnershipStore
    let logger: Logger
    let hub: EventHub
    /// Changes the kernel refused, by what they would do, with how many times in
    /// a row: the first is logged as an error, repeats at debug level.
    private var refusals: [String: Int] = [:]
    private var lastNotes: Set<String> = []
    /// The record as the pass found it: an EEXIST on what it held is adoption.
    private var recordedAtPassStart = RoutingOwnership()

    /// Adopts the routing part of the record the reconciler has read (or set aside).
    init(kernel: RoutingKernel, store: OwnershipStore, logger: Logger, hub: EventHub) {
        self.kernel = kernel
        self.store = store
        self.logger = logger
        self.hub = hub
        owned = store.recorded.routing
        if !owned.isEmpty {
            logger.info("adopting source routing recorded by an earlier run", metadata: [
                "state": "\(store.path)", "rules": "\(owned.rules.count)", "routes": "\(owned.routes.count)",
                "rp_filter": "\(owned.reversePathFilter.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))",
            ])
        }
    }

    /// One pass, before the endpoints': observe, forget what vanished, plan,
    /// apply. Returns false when the state could not be read or a change was
    /// refused (the caller retries soon). `network`: the pass's links and
    /// addresses; `health`: the paths' health (the initial-path rule, `InitialPath`).
    /// With `mode = "off"`, what this daemon made is removed.
    @discardableResult
    func reconcile(policy: Policy, network: NetworkSnapshot, health: PathHealthView = .none, trigger: String) -> Bool {
        let state: RoutingKernel.State
        do { state = try kernel.observe(network) } catch {
            logger.error("cannot read the routing rules and routes", metadata: ["trigger": "\(trigger)", "error": "\(error)"])
            return false
        }
        recordedAtPassStart = owned
        forgetVanished(state.network)
        // With mode = "off" the planner's plan is the removal of what is owned.
        let plan = RoutingPlanner.plan(policy: policy, network: state.network, reversePathFilter: state.reversePathFilter,
                                       owned: owned, health: health)
        report(plan.notes.map { "\($0)" })
        return apply(withoutOthersReversePathFilter(plan, state: state), network: state.network, trigger: trigger)
    }

    /// `on_exit = "remove"`: removes every rule and route mptcpctld made (marked
    /// `proto 242`: recorded, or adopted from a lost record) and
    /// gives back each rp_filter value it changed, unless someone changed it since.
    func removeOwned(network: NetworkSnapshot?) {
        let state: RoutingKernel.State
        do { state = try kernel.observe(network ?? NetworkSnapshot(links: [], addresses: [], defaultRoutes: [])) } catch {
            logger.error("cannot read the routing rules and routes at exit; left in place (recorded for the next run)",
                         metadata: ["error": "\(error)"])
            return
        }
        recordedAtPassStart = owned
        forgetVanished(state.network, linksKnown: network != nil)
        let plan = RoutingPlanner.removal(owned: owned, network: state.network)
        _ = apply(withoutOthersReversePathFilter(plan, state: state), network: state.network, trigger: "exit")
    }

    /// `plan` without the restores of rp_filter values someone else changed
    /// since this daemon set them.
    private func withoutOthersReversePathFilter(_ plan: RoutingPlan, state: RoutingKernel.State) -> RoutingPlan {
        var plan = plan
        plan.changes = plan.changes.filter { change in
            guard case .restoreReversePathFilter(let interface, _, _) = change else { return true }
            return stillOurs(interface, state: state)
        }
        return plan
    }

    /// An rp_filter this daemon set is given back only while it still has the
    /// value set (loose); one changed since by someone else is theirs.
    private func stillOurs(_ interface: String, state: RoutingKernel.State) -> Bool {
        guard let now = state.reversePathFilter[interface], now != 2 else { return true }
        logger.notice("not restoring rp_filter changed since by someone else", metadata: [
            "interface": "\(interface)", "value": "\(now)", "found": "\(owned.reversePathFilter[interface].map(String.init) ?? "-")",
        ])
        var record = owned
        record.reversePathFilter[interface] = nil
        persist(record)
        return false
    }

    /// Drops recorded rules and routes the kernel no longer has: never made (a
    /// SIGKILL between record and change) or removed by someone else; and,
    /// when `network` lists the links, the rp_filter values of interfaces gone.
    private func forgetVanished(_ network: NetworkSnapshot, linksKnown: Bool = true) {
        let gone = owned.vanished(from: network)
        var record = owned.dropping(rules: gone.rules, routes: gone.routes)
        if !gone.rules.isEmpty || !gone.routes.isEmpty {
            let words = RoutingWords(network: network, tables: owned.tables)
            logger.info("forgot source routing that is gone from the kernel", metadata: [
                "rules": "\(gone.rules.map(words.describe).joined(separator: "; "))",
                "routes": "\(gone.routes.map(words.describe).joined(separator: "; "))",
            ])
        }
        for name in linksKnown ? owned.reversePathFilterOfVanishedLinks(network) : [] {
            logger.info("forgot the rp_filter value found on an interface that is gone", metadata: [
                "interface": "\(name)", "found": "\(owned.reversePathFilter[name].map(String.init) ?? "-")",
            ])
            record.reversePathFilter[name] = nil
        }
        if record != owned { persist(record) }
    }

    /// Applies the plan's changes in order; a refused one does not stop the
    /// others. Then the tables: the plan's, plus any still holding a route of ours.
    private func apply(_ plan: RoutingPlan, network: NetworkSnapshot, trigger: String) -> Bool {
        var tables = owned.tables.merging(plan.ownership.tables) { _, new in new }
        let adopted = owned.adopting(plan.ownership, present: network)
        if tables != owned.tables || adopted != owned {
            var record = adopted
            record.tables = tables
            persist(record)
        }
        let words = RoutingWords(network: network, tables: tables)
        var ok = true
        for change in plan.changes { ok = apply(change, words: words, trigger: trigger) && ok }
        let used = Set(owned.ownedRoutes.map(\.table) + owned.ownedRules.map(\.table))
        tables = plan.ownership.tables.merging(owned.tables.filter { used.contains($0.value) }) { planned, _ in planned }
        if tables != owned.tables {
            var record = owned
            record.tables = tables
            persist(record)
        }
        let planned = Set(plan.changes.map { words.subject($0) })
        for key in refusals.keys where !planned.contains(key) { refusals[key] = nil }
        return ok
    }

    /// One change: recorded first when it makes something, undone in the record
    /// when the kernel refuses it, forgotten once a removal went through. An
    /// EEXIST on something recorded before this change is adoption, not failure;
    /// an ENOENT on a removal means it is gone already.
    private func apply(_ change: RoutingChange, words: RoutingWords, trigger: String) -> Bool {
        var record = owned
        let newlyRecorded = record.recordBefore(change)
        if newlyRecorded { persist(record) }
        var failure: MPTCPError?
        do {
            try kernel.apply(change)
        } catch let error where error.isExists && Self.makes(change) && (!newlyRecorded || wasRecorded(change)) {
            logger.info("adopted source routing recorded by an earlier run", metadata: ["change": "\(words.subject(change))"])
        } catch let error where error.isNotFound && !Self.makes(change) {
            logger.info("source routing gone already", metadata: ["change": "\(words.subject(change))"])
        } catch {
            failure = error
        }
        if let failure {
            if newlyRecorded { forget(change) }
            refused(change, error: failure, words: words, trigger: trigger)
        } else {
            if !Self.makes(change) { forget(change) }
            applied(change, words: words, trigger: trigger)
        }
        if hub.isObserved { hub.publish(words.event(change, trigger: trigger, error: failure)) }
        return failure == nil
    }

    /// Whether the pass found what `change` makes in the record (an earlier run's).
    private func wasRecorded(_ change: RoutingChange) -> Bool {
        var probe = recordedAtPassStart
        return !probe.recordBefore(change)
    }

    /// Whether the change makes something (an addition, an rp_filter set).
    private static func makes(_ change: RoutingChange) -> Bool {
        switch change {
        case .addRule, .addRoute, .setReversePathFilter: true
        case .removeRule, .removeRoute, .restoreReversePathFilter: false
        }
    }

    private func forget(_ change: RoutingChange) {
        var record = owned
        record.forget(change)
        persist(record)
    }

    private func applied(_ change: RoutingChange, words: RoutingWords, trigger: String) {
        logger.notice("\(words.logLine(change))", metadata: ["reason": "\(change.reason)", "trigger": "\(trigger)"])
        if let n = refusals.removeValue(forKey: words.subject(change)) {
            logger.notice("a routing change refused before went through", metadata: ["change": "\(words.subject(change))", "refusals": "\(n)"])
        }
    }

    private func refused(_ change: RoutingChange, error: MPTCPError, words: RoutingWords, trigger: String) {
        let key = words.subject(change)
        let n = refusals[key, default: 0] + 1
        refusals[key] = n
        let meta: Logger.Metadata = ["change": "\(RoutingWords.action(change)) \(key)", "reason": "\(change.reason)",
                                     "trigger": "\(trigger)", "error": "\(error)", "refusals": "\(n)"]
        if n == 1 { logger.error("kernel refused a routing change", metadata: meta) } else {
            logger.debug("kernel refused a routing change again", metadata: meta)
        }
    }

    /// Notes are logged when they change, not on every pass.
    private func report(_ now: [String]) {
        for note in now where !lastNotes.contains(note) { logger.warning("routing: \(note)") }
        lastNotes = Set(now)
        notes = now
    }

    /// Writes the routing part of the record (the endpoints' part is kept).
    private func persist(_ record: RoutingOwnership) {
        owned = record
        do { try store.update { $0.routing = record } } catch {
            logger.error("cannot record owned source routing", metadata: ["state": "\(store.path)", "error": "\(error)"])
        }
    }
}
