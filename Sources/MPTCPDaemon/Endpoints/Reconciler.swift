import FoundationEssentials
import Logging
import Metrics
#if canImport(Glibc)
import Glibc
#endif
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy

/// Takes the kernel to the policy: plans with the engine, applies each change,
/// records ownership, and logs what it did and why. Owned by the daemon
/// thread (`EndpointLoop`), which serialises every call; reaches the kernel
/// only through `EndpointKernel`'s protocols, so it is tested on a fake kernel.
final class Reconciler: @unchecked Sendable {
    /// The running policy, read from the daemon's one store at each use.
    var policy: Policy { policies.current }
    let policies: PolicyStore
    private(set) var owned: Set<OwnedEndpoint>
    /// The namespace-wide settings this daemon (or the run it adopted) changed,
    /// with the values found before: given back at exit with `on_exit = "remove"`.
    private(set) var changedSettings: SettingsRecord
    let kernel: EndpointKernel
    let store: OwnershipStore
    let logger: Logger
    private var lastWarnings: Set<String> = []
    private var lastForeign: Set<Endpoint> = []
    /// Changes the kernel refused, by what they would do (action, address and
    /// flags; not the id, which the next plan may choose anew), with how many
    /// times in a row: the first refusal is logged as an error, repeats at debug
    /// level, so a lasting cause neither floods the journal nor goes unseen.
    private var refusals: [String: Int] = [:]
    /// Each path's heal count (`PathHealthView.Verdict.heals`) as of the last pass
    /// that acted on it: a path counted higher now healed since, and its endpoint
    /// is replaced once (`Planner.plan`'s `rebuild`), not on every pass.
    private(set) var actedHeals: [PathKey: Int] = [:]
    /// When the endpoints replaced on healing are to be added again (the endpoint
    /// thread runs a pass then): `PathHealthView.readdDelay` after their delete,
    /// time for the peer to take the RM_ADDR it sent before a new subflow joins
    /// with the same address id (`Planner.replace`).
    private(set) var readdAt: ContinuousClock.Instant?
    /// The endpoints so deleted: no pass before `readdAt` adds them (a pass the
    /// heal's own routing change triggers comes at once).
    private(set) var heldBack: Set<IPAddress> = []

    /// Where endpoint changes are published (`subscribe`).
    let hub: EventHub

    init(policies: PolicyStore, kernel: EndpointKernel, store: OwnershipStore, logger: Logger, hub: EventHub) throws {
        self.hub = hub
        self.policies = policies
        self.kernel = kernel
        self.store = store
        self.logger = logger
        do {
            let record = try store.load()
            owned = record.endpoints
            changedSettings = record.settings
        } catch {
            // A damaged record must not keep the daemon from starting: set it aside and
            // start owning nothing (the endpoints it listed are then foreign: left alone).
            let aside = store.path + ".damaged"
            _ = rename(store.path, aside)
            logger.error("the ownership record is unreadable; set aside, endpoints it listed are treated as foreign",
                         metadata: ["state": "\(store.path)", "moved_to": "\(aside)", "error": "\(error)"])
            hub.publish(.endpointRecord("endpoint_record_unreadable", endpoints: [], [
                "state": .string(store.path), "moved_to": .string(aside), "error": .string("\(error)"),
            ]))
            owned = []
            changedSettings = SettingsRecord()
        }
        if !changedSettings.isEmpty {
            logger.info("adopting kernel settings changed by an earlier run (given back at exit)", metadata: [
                "state": "\(store.path)", "settings": "\(Self.describe(changedSettings))",
            ])
        }
        if !owned.isEmpty {
            logger.info("adopting endpoints recorded by an earlier run", metadata: [
                "count": "\(owned.count)", "state": "\(store.path)",
                "endpoints": "\(owned.sorted().map { "\($0.id):\($0.address)" }.joined(separator: ","))",
            ])
            hub.publish(.endpointRecord("endpoints_adopted", endpoints: owned.sorted().map { "\($0.id):\($0.address)" },
                                        ["state": .string(store.path)]))
        }
    }

    /// Logs the namespace-wide settings as found, then applies the policy's.
    func applySettings(logFound: Bool) -> Bool {
        let current: KernelSettingsSnapshot
        do { current = try kernel.settings() } catch {
            logger.error("cannot read the kernel's MPTCP settings", metadata: ["error": "\(error)"])
            return false
        }
        if logFound {
            logger.info("kernel settings found at start-up", metadata: [
                "path_manager": "\(current.pathManager)", "scheduler": "\(current.scheduler)",
                "subflows": "\(current.limits.subflows)", "add_addr_accepted": "\(current.limits.addAddrAccepted)",
            ])
        }
        var ok = true
        for change in Planner.settingsChanges(policy: policy, current: current) {
            // Record first (as for endpoints): if we die between the two
            // steps, the next run still knows what was found.
            let before = changedSettings
            changedSettings = Planner.recording(change, in: changedSettings)
            if changedSettings != before { persist() }
            do {
                try kernel.apply(change)
                log(change, as: "set")
            } catch {
                ok = false
                if changedSettings != before {
                    changedSettings = before
                    persist()
                }
                logger.error("cannot apply a kernel setting", metadata: ["change": "\(change)", "error": "\(error)"])
            }
        }
        return ok
    }

    /// `on_exit = "remove"`: gives back the settings this daemon changed, each
    /// still at the value it set; one someone else changed since is left alone.
    func restoreSettings() {
        guard !changedSettings.isEmpty else { return }
        let current: KernelSettingsSnapshot
        do { current = try kernel.settings() } catch {
            logger.error("cannot read the kernel's MPTCP settings at exit; not restored (recorded for the next run)",
                         metadata: ["error": "\(error)", "settings": "\(Self.describe(changedSettings))"])
            return
        }
        let (changes, leftAlone) = Planner.restoring(changedSettings, current: current)
        for why in leftAlone { logger.notice("not restoring a setting changed since by someone else", metadata: ["setting": "\(why)"]) }
        // What stays recorded: only the settings whose restore failed. One
        // restored (or left to whoever changed it since) leaves the record at
        // once, so a partial failure does not make the next run report
        // settings it already gave back as "changed since by someone else".
        let recorded = changedSettings
        var remaining = SettingsRecord()
        for change in changes {
            do {
                try kernel.apply(change)
                log(change, as: "restored")
            } catch {
                logger.error("cannot restore a kernel setting (recorded for the next run)", metadata: ["change": "\(change)", "error": "\(error)"])
                switch change {
                case .pathManager: remaining.pathManager = recorded.pathManager
                case .scheduler: remaining.scheduler = recorded.scheduler
                case .limits:
                    // The limits are set together; those the change was to restore stay.
                    remaining.subflows = recorded.subflows.flatMap { current.limits.subflows == $0.set ? $0 : nil }
                    remaining.addAddrAccepted = recorded.addAddrAccepted.flatMap { current.limits.addAddrAccepted == $0.set ? $0 : nil }
                }
            }
        }
        if remaining != recorded {
            changedSettings = remaining
            persist()
        }
    }

    /// `set path manager from=kernel to=userspace` (or `restored …`): one
    /// notice per kernel setting changed, in the words of `verb`.
    private func log(_ change: SettingChange, as verb: String) {
        switch change {
        case .pathManager(let from, let to):
            logger.notice("\(verb) path manager", metadata: ["from": "\(from)", "to": "\(to)"])
        case .scheduler(let from, let to):
            logger.notice("\(verb) scheduler", metadata: ["from": "\(from)", "to": "\(to)"])
        case .limits(let from, let to):
            logger.notice("\(verb) limits", metadata: [
                "subflows": "\(from.subflows)->\(to.subflows)",
                "add_addr_accepted": "\(from.addAddrAccepted)->\(to.addAddrAccepted)",
            ])
        }
    }

    /// `path_manager=kernel->userspace scheduler=…`, for the log.
    static func describe(_ r: SettingsRecord) -> String {
        var parts: [String] = []
        if let v = r.pathManager { parts.append("path_manager=\(v.found)->\(v.set)") }
        if let v = r.scheduler { parts.append("scheduler=\(v.found)->\(v.set)") }
        if let v = r.subflows { parts.append("subflows=\(v.found)->\(v.set)") }
        if let v = r.addAddrAccepted { parts.append("add_addr_accepted=\(v.found)->\(v.set)") }
        return parts.joined(separator: " ")
    }

    /// The pass at `readdAt` runs now.
    func readdDue() {
        readdAt = nil
        heldBack = []
    }

    /// The store holds a new policy (a reload): its warnings are said again.
    func policyReplaced() {
        lastWarnings = []
    }

    /// One pass: observe, plan, apply. Returns false when a change failed (the
    /// caller retries soon). `network`: links and addresses the caller has just
    /// read for this pass (else they are read here). `health`: the paths' health
    /// as of this pass: a withdrawn path's endpoint is deleted, a demoted one's set
    /// backup, and a healed one's still there replaced, once per heal.
    @discardableResult
    func reconcile(trigger: String, network: NetworkSnapshot? = nil, health: PathHealthView = .none) -> Bool {
        let plan: EndpointPlan
        let healed = health.healed(since: actedHeals)
        do {
            plan = try kernel.observe(owned: owned, policy: policy, network: network, health: health, rebuild: healed, holdBack: heldBack)
        } catch {
            logger.error("cannot read the kernel's state", metadata: ["trigger": "\(trigger)", "error": "\(error)"])
            return false
        }
        if !plan.staleOwnership.isEmpty {
            owned.subtract(plan.staleOwnership)
            persist()
            logger.info("forgot endpoints that are gone from the kernel", metadata: [
                "endpoints": "\(plan.staleOwnership.map { "\($0.id):\($0.address)" }.joined(separator: ","))",
            ])
            hub.publish(.endpointRecord("endpoints_forgotten", endpoints: plan.staleOwnership.map { "\($0.id):\($0.address)" }))
        }
        report(plan)
        var ok = true
        var refused: Set<IPAddress> = []
        for change in plan.changes {
            let applied = apply(change, trigger: trigger)
            if !applied { refused.insert(change.endpoint.address) }
            ok = applied && ok
        }
        // A heal is acted on once its replacement's delete went through (a refused one is planned again);
        // the endpoint deleted is added again by the pass at `readdAt`.
        var acted = health.heals
        for (address, key) in plan.replacedOnHeal where refused.contains(address) { acted[key] = nil }
        actedHeals.merge(acted) { _, new in new }
        let replaced = plan.replacedOnHeal.keys.filter { !refused.contains($0) }
        if !replaced.isEmpty {
            heldBack.formUnion(replaced)
            let delay = health.readdDelay(replacing: Set(replaced.compactMap { plan.replacedOnHeal[$0] }))
            // An earlier heal's wait is not cut short by this one's.
            let at = ContinuousClock.now + delay
            readdAt = max(readdAt ?? at, at)
            logger.info("the endpoints replaced on healing are added again in a moment", metadata: [
                "addresses": "\(replaced.map(\.description).sorted().joined(separator: ","))",
                "delay_ms": "\(Int(HealthReport.milliseconds(delay).rounded()))",
            ])
        }
        // A refused change that is no longer planned (its address went, the
        // policy changed, someone else made it): nothing is left to retry.
        let planned = Set(plan.changes.map(Self.refusalKey))
        for key in refusals.keys where !planned.contains(key) {
            logger.info("a refused endpoint change is no longer needed", metadata: ["change": "\(key)", "refusals": "\(refusals[key] ?? 0)"])
            hub.publish(.endpointRetry("endpoint_refusal_cleared", ["change": .string(key), "refusals": .integer(Int64(refusals[key] ?? 0))]))
            refusals[key] = nil
        }
        return ok
    }

    private static func refusalKey(_ change: EndpointChange) -> String {
        switch change {
        case .add(let e, _): "add \(e.address) \(e.flags.names.joined(separator: ","))"
        case .delete(let e, _): "delete \(e.address)"
        case .setFlags(let e, let flags, _): "set_flags \(e.address) \(flags.names.joined(separator: ","))"
        }
    }

    private func apply(_ change: EndpointChange, trigger: String) -> Bool {
        // Tests kill the daemon halfway through a pass, or change the network, here.
        FaultInjection.pause(before: "an endpoint change", logger: logger, ["change": "\(Self.refusalKey(change))"])
        let action: String
        switch change {
        case .add: action = "add"
        case .delete: action = "delete"
        case .setFlags: action = "set_flags"
        }
        let refusal = applyLogged(change, trigger: trigger)
        let applied = refusal == nil
        Counter(label: "mptcpctld_endpoint_changes_total", dimensions: [("action", action), ("result", applied ? "ok" : "refused")])
            .increment()
        if hub.isObserved {
            let e = change.endpoint
            var fields: [String: JSONValue] = [
                "id": .integer(Int64(e.id)), "address": .string(e.address.description), "reason": .string(change.reason),
                "trigger": .string(trigger), "result": .string(applied ? "ok" : "refused"),
            ]
            if case .setFlags(_, let flags, _) = change {
                fields["flags"] = .string(flags.names.joined(separator: ","))
                fields["was"] = .string(e.flags.names.joined(separator: ","))
            } else {
                fields["flags"] = .string(e.flags.names.joined(separator: ","))
            }
            if let refusal { fields["error"] = .string(refusal) }
            hub.publish(DaemonEvent(.action, "endpoint_" + action, fields))
        }
        return applied
    }

    /// Applies and logs `change`; nil when done, else the kernel's refusal.
    private func applyLogged(_ change: EndpointChange, trigger: String) -> String? {
        let e = change.endpoint
        var meta: Logger.Metadata = [
            "id": "\(e.id)", "address": "\(e.address)", "reason": "\(change.reason)", "trigger": "\(trigger)",
        ]
        if e.interfaceIndex != 0 { meta["interface_index"] = "\(e.interfaceIndex)" }
        do {
            switch change {
            case .add(let endpoint, _):
                // Record first: if we die between the two steps, the next run adopts it.
                let record = OwnedEndpoint(id: endpoint.id, address: endpoint.address)
                owned.insert(record)
                persist()
                do {
                    try kernel.endpoints.addEndpoint(endpoint)
                } catch {
                    owned.remove(record)
                    persist()
                    throw error
                }
                meta["flags"] = "\(endpoint.flags.names.joined(separator: ","))"
                logger.info("added endpoint", metadata: meta)
            case .delete(let endpoint, _):
                do {
                    try kernel.endpoints.deleteEndpoint(id: endpoint.id)
                } catch {
                    // Already gone ("address not found"): nothing to undo.
                    if !error.isNotFound { throw error }
                }
                owned.remove(OwnedEndpoint(id: endpoint.id, address: endpoint.address))
                persist()
                logger.info("deleted endpoint", metadata: meta)
            case .setFlags(let endpoint, let flags, _):
                try kernel.endpoints.setEndpointFlags(id: endpoint.id, flags: flags)
                meta["flags"] = "\(flags.names.joined(separator: ","))"
                meta["was"] = "\(endpoint.flags.names.joined(separator: ","))"
                logger.info("changed endpoint flags", metadata: meta)
            }
            if let n = refusals.removeValue(forKey: Self.refusalKey(change)) {
                logger.notice("an endpoint change refused before went through", metadata: meta.merging(["refusals": "\(n)"]) { a, _ in a })
            }
            return nil
        } catch {
            meta["error"] = "\(error)"
            let key = Self.refusalKey(change)
            let n = refusals[key, default: 0] + 1
            refusals[key] = n
            if n == 1 {
                logger.error("kernel refused an endpoint change", metadata: meta)
            } else {
                meta["refusals"] = "\(n)"
                logger.debug("kernel refused an endpoint change again", metadata: meta)
            }
            return "\(error)"
        }
    }

    /// Warnings and foreign endpoints are logged when they change, not on every pass.
    private func report(_ plan: EndpointPlan) {
        let warnings = Set(plan.warnings)
        for w in plan.warnings where !lastWarnings.contains(w) {
            logger.warning("\(w)")
            hub.publish(.endpointWarning("\(w)"))
        }
        lastWarnings = warnings
        let foreign = Set(plan.foreign)
        if foreign != lastForeign {
            for e in plan.foreign.sorted(by: { $0.id < $1.id }) where !lastForeign.contains(e) {
                logger.notice("foreign endpoint left alone", metadata: [
                    "id": "\(e.id)", "address": "\(e.address)", "flags": "\(e.flags.names.joined(separator: ","))",
                ])
                hub.publish(.foreignEndpoint(id: e.id, address: "\(e.address)", flags: e.flags.names.joined(separator: ",")))
            }
            lastForeign = foreign
        }
    }

    private func persist() {
        do {
            try store.update { [owned, changedSettings] in
                $0.endpoints = owned
                $0.settings = changedSettings
            }
        } catch {
            logger.error("cannot record owned endpoints", metadata: ["state": "\(store.path)", "error": "\(error)"])
        }
    }

    /// `on_exit = "remove"`: deletes exactly the endpoints this daemon added.
    func removeOwned() {
        let endpoints: [Endpoint]
        do { endpoints = try kernel.endpoints.endpoints() } catch {
            logger.error("cannot list endpoints at exit", metadata: ["error": "\(error)"])
            return
        }
        let present = Set(endpoints.map { OwnedEndpoint(id: $0.id, address: $0.address) })
        owned.formIntersection(present)
        for e in endpoints where owned.contains(OwnedEndpoint(id: e.id, address: e.address)) {
            do {
                try kernel.endpoints.deleteEndpoint(id: e.id)
                owned.remove(OwnedEndpoint(id: e.id, address: e.address))
                logger.info("removed endpoint at exit", metadata: ["id": "\(e.id)", "address": "\(e.address)"])
            } catch {
                logger.error("cannot remove endpoint at exit", metadata: ["id": "\(e.id)", "error": "\(error)"])
            }
        }
        persist()
    }
}
