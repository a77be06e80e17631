import MPTCPKit

/// An address the policy wants as an endpoint.
public struct DesiredEndpoint: Hashable, Sendable {
    public var address: IPAddress
    public var interfaceIndex: Int32
    public var interfaceName: String
    public var flags: EndpointFlags
    public var role: Role
    /// The block that chose it.
    public var rule: Int
    /// "eth1 is active (interface[2] "eth*")", and what path health did to it
    /// ("; eth1/ipv4 is degraded: …; backup while eth2/ipv4 is up").
    public var reason: String
    /// The health of its path as steering saw it (`unknown` without a verdict).
    public var health: PathHealthState = .unknown
}

/// An endpoint the daemon added, remembered across restarts.
public struct OwnedEndpoint: Hashable, Sendable, Codable, Comparable {
    public var id: UInt8
    public var address: String

    public init(id: UInt8, address: IPAddress) {
        self.id = id
        self.address = address.description
    }

    public static func < (a: OwnedEndpoint, b: OwnedEndpoint) -> Bool { (a.id, a.address) < (b.id, b.address) }
}

/// One change to the kernel's endpoints.
public enum EndpointChange: Hashable, Sendable {
    /// Add `endpoint` (its id chosen by the planner).
    case add(Endpoint, reason: String)
    /// Delete an endpoint the daemon owns.
    case delete(Endpoint, reason: String)
    /// Change backup/fullmesh in place: the id and the subflows survive.
    case setFlags(Endpoint, to: EndpointFlags, reason: String)

    public var endpoint: Endpoint {
        switch self {
        case .add(let e, _), .delete(let e, _), .setFlags(let e, _, _): return e
        }
    }

    public var reason: String {
        switch self {
        case .add(_, let r), .delete(_, let r), .setFlags(_, _, let r): return r
        }
    }
}

/// The difference between the policy and the kernel: what to do, in order
/// (deletes, then flag changes, then adds), plus what is left alone.
public struct EndpointPlan: Hashable, Sendable {
    public var changes: [EndpointChange] = []
    /// Endpoints the daemon did not add; never touched.
    public var foreign: [Endpoint] = []
    public var warnings: [String] = []
    /// The endpoints the policy wants and the cap allows.
    public var desired: [DesiredEndpoint] = []
    /// Owned entries whose endpoint is gone from the kernel (drop them from the store).
    public var staleOwnership: [OwnedEndpoint] = []
    /// Every address that is not used, with why: users ask "why has this
    /// interface no subflow?".
    public var skipped: [SkippedAddress] = []
    /// Endpoints replaced because their path healed (`Planner.plan`'s
    /// `rebuild`): deleted by this plan, added again by the next; by address, with
    /// the path. The consumer counts the heal acted on once the delete went through.
    public var replacedOnHeal: [IPAddress: PathKey] = [:]

    public var isEmpty: Bool { changes.isEmpty }
}

/// An address on an interface that the policy does not use, and why.
public struct SkippedAddress: Hashable, Sendable {
    public var address: IPAddress
    public var interfaceIndex: Int32
    public var reason: String
}

/// A namespace-wide setting the policy changes.
public enum SettingChange: Hashable, Sendable {
    case pathManager(from: String, to: String)
    case scheduler(from: String, to: String)
    case limits(from: Limits, to: Limits)
}

/// A namespace-wide setting the daemon changed: the value it found before its
/// first change, and the value it set last.
public struct ChangedSetting<Value: Hashable & Sendable & Codable>: Hashable, Sendable, Codable {
    public var found: Value
    public var set: Value

    public init(found: Value, set: Value) {
        self.found = found
        self.set = set
    }
}

/// The namespace-wide settings the daemon changed, kept in the ownership
/// record next to its endpoints, so they are given back at exit even after a
/// crash and a restart (nil: not changed by the daemon).
public struct SettingsRecord: Hashable, Sendable, Codable {
    /// `net.mptcp.path_manager`
    public var pathManager: ChangedSetting<String>?
    /// `net.mptcp.scheduler`
    public var scheduler: ChangedSetting<String>?
    /// The limit on extra subflows.
    public var subflows: ChangedSetting<UInt32>?
    /// The limit on accepted ADD_ADDRs.
    public var addAddrAccepted: ChangedSetting<UInt32>?

    public init() {}

    public var isEmpty: Bool { self == SettingsRecord() }

    enum CodingKeys: String, CodingKey {
        case pathManager = "path_manager", scheduler, subflows, addAddrAccepted = "add_addr_accepted"
    }
}

/// The kernel's namespace-wide MPTCP settings, as read.
public struct KernelSettingsSnapshot: Hashable, Sendable {
    public var pathManager: String
    public var scheduler: String
    public var limits: Limits

    public init(pathManager: String, scheduler: String, limits: Limits) {
        self.pathManager = pathManager
        self.scheduler = scheduler
        self.limits = limits
    }
}

/// The policy engine: pure functions from (policy, network, kernel state) to changes.
public enum Planner {
    /// The kernel's per-namespace endpoint cap.
    public static let endpointCap = 8

    /// Every address the policy wants, highest priority first: active before
    /// backup, then block order, interface name, IPv4 before IPv6, address.
    /// `excluded` receives, for addresses not wanted, why. `health` steers
    /// (`PathSteering`): a `down` path is withdrawn or made backup
    /// (`on_path_down`), a `degraded` one made backup, never the last of a family.
    public static func desiredEndpoints(policy: Policy, network: NetworkSnapshot, health: PathHealthView = .none,
                                        excluded: inout [IPAddress: String]) -> [DesiredEndpoint] {
        let steered = PathSteering.steer(unsteeredEndpoints(policy: policy, network: network, excluded: &excluded), health: health)
        excluded.merge(steered.withdrawn) { _, health in health }
        return steered.endpoints
    }

    /// Every address the policy wants, whatever the health of its path.
    static func unsteeredEndpoints(policy: Policy, network: NetworkSnapshot,
                                   excluded: inout [IPAddress: String]) -> [DesiredEndpoint] {
        var wanted: [DesiredEndpoint] = []
        let links = Dictionary(network.links.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        for a in network.addresses {
            guard let link = links[a.interfaceIndex] else {
                excluded[a.address] = "its interface (index \(a.interfaceIndex)) is gone"
                continue
            }
            guard let rule = policy.interfaces.first(where: { $0.matches(link.name) }) else {
                excluded[a.address] = "\(link.name) matches no [[interface]] block"
                continue
            }
            guard rule.role != .off else {
                excluded[a.address] = "\(link.name) is off (\(rule.label))"
                continue
            }
            guard link.isUsable else {
                excluded[a.address] = "\(link.name) is down (\(link.isAdministrativelyUp ? "state " + link.operState.description : "administratively"))"
                continue
            }
            let family: AddressFamily = a.address.isIPv4 ? .ipv4 : .ipv6
            if !rule.families.contains(family) {
                excluded[a.address] = "\(family.rawValue) is not in the families of \(rule.label)"
                continue
            }
            if a.isTentative || a.hasFailedDAD || a.isDeprecated {
                excluded[a.address] = a.hasFailedDAD ? "duplicate address detection failed"
                    : a.isTentative ? "tentative (duplicate address detection in progress)" : "deprecated"
                continue
            }
            if rule.skipLinkLocal && a.isLinkLocal {
                excluded[a.address] = "link-local (skip_link_local in \(rule.label))"
                continue
            }
            if a.address.isUnspecified || isLoopback(a.address) {
                excluded[a.address] = "a loopback or unspecified address"
                continue
            }
            if rule.requireDefaultRoute && !network.hasDefaultRoute(family: a.address.family, through: link.index) {
                excluded[a.address] = "no \(family.rawValue) default route leaves through \(link.name) (require_default_route)"
                continue
            }
            wanted.append(DesiredEndpoint(
                address: a.address, interfaceIndex: link.index, interfaceName: link.name,
                flags: rule.endpointFlags, role: rule.role, rule: rule.position,
                reason: "\(link.name) is \(rule.role.rawValue)\(rule.announce ? ", announced" : "")\(rule.fullmesh ? ", fullmesh" : "") (\(rule.label))"))
        }
        // The same address on two interfaces: keep the first by priority.
        var seen: Set<IPAddress> = []
        return wanted.sorted(by: priority).filter { seen.insert($0.address).inserted }
    }

    static func priority(_ a: DesiredEndpoint, _ b: DesiredEndpoint) -> Bool {
        let rank: [Role: Int] = [.active: 0, .backup: 1, .handover: 2]
        let ra = rank[a.role] ?? 3, rb = rank[b.role] ?? 3
        if ra != rb { return ra < rb }
        if a.rule != b.rule { return a.rule < b.rule }
        if a.interfaceName != b.interfaceName { return a.interfaceName < b.interfaceName }
        if a.address.isIPv4 != b.address.isIPv4 { return a.address.isIPv4 }
        return a.address < b.address
    }

    static func isLoopback(_ address: IPAddress) -> Bool {
        switch address {
        case .v4: return address.bytes[0] == 127
        case .v6:
            let b = address.bytes
            // ::1, or an IPv4-mapped loopback (::ffff:127.0.0.0/104).
            return b == [UInt8](repeating: 0, count: 15) + [1]
                || (b[0..<10].allSatisfy { $0 == 0 } && b[10] == 0xff && b[11] == 0xff && b[12] == 127)
        }
    }

    /// The smallest set of changes taking the kernel's endpoints to the policy.
    /// `owned` says which of `endpoints` the daemon added; the rest are foreign.
    /// `health`: the paths' health, which steers (`desiredEndpoints`): a withdrawn
    /// path's endpoint is deleted (the kernel sends RM_ADDR and closes its subflows)
    /// and added again once it heals (the kernel then opens its subflows at once).
    /// `rebuild`: the paths that healed since the caller last acted
    /// (`PathHealthView.healed(since:)`): an owned endpoint of theirs that is still
    /// there (kept as backup, or as the last path of its family) is deleted, to be
    /// added again by the next plan (`replace`), so the kernel closes the
    /// subflows kept through the outage, whose retransmission timer backed off,
    /// and opens new ones. `holdBack`: addresses such a plan deleted, not added
    /// again until the caller's moment has come.
    public static func plan(policy: Policy, network: NetworkSnapshot, endpoints: [Endpoint],
                            owned: Set<OwnedEndpoint>, health: PathHealthView = .none, rebuild: Set<PathKey> = [],
                            holdBack: Set<IPAddress> = [], cap: Int = endpointCap) -> EndpointPlan {
        var plan = EndpointPlan()
        var excluded: [IPAddress: String] = [:]
        var candidates = desiredEndpoints(policy: policy, network: network, health: health, excluded: &excluded)
        if policy.kernel.pathManager == "userspace" {
            // The userspace path manager (the daemon itself) opens subflows and
            // announces addresses per connection; the kernel's endpoints are read
            // only by the in-kernel one. Endpoints would be clutter another tool
            // may mistake for configuration: none is wanted, owned ones go.
            for d in candidates {
                excluded[d.address] = "\(d.interfaceName) is used per connection by the userspace path manager, which needs no in-kernel endpoint"
            }
            candidates = []
        }

        let isOwned = { (e: Endpoint) in owned.contains(OwnedEndpoint(id: e.id, address: e.address)) }
        let mine = endpoints.filter(isOwned)
        plan.foreign = endpoints.filter { !isOwned($0) }
        let present = Set(endpoints.map { OwnedEndpoint(id: $0.id, address: $0.address) })
        plan.staleOwnership = owned.filter { !present.contains($0) }.sorted()

        // Foreign endpoints take kernel slots; an address a foreign endpoint holds is not ours to add.
        let foreignAddresses = Set(plan.foreign.map(\.address))
        var slots = max(0, cap - plan.foreign.count)
        var kept: [DesiredEndpoint] = []
        var leftOut: [DesiredEndpoint] = []
        for d in candidates {
            if foreignAddresses.contains(d.address) {
                let holder = plan.foreign.first { $0.address == d.address }
                plan.warnings.append("\(d.address) (\(d.interfaceName)) is wanted but held by a foreign endpoint (id \(holder?.id ?? 0)); left alone")
                continue
            }
            if slots > 0 { kept.append(d); slots -= 1 } else { leftOut.append(d) }
        }
        if !leftOut.isEmpty {
            plan.warnings.append("the kernel holds at most \(cap) endpoints\(plan.foreign.isEmpty ? "" : " (\(plan.foreign.count) foreign)"); not using "
                + leftOut.map { "\($0.address) (\($0.interfaceName), \($0.role.rawValue))" }.joined(separator: ", "))
            for d in leftOut { excluded[d.address] = "left out by the \(cap)-endpoint cap" }
        }
        plan.desired = kept

        var deletes: [EndpointChange] = [], sets: [EndpointChange] = [], adds: [EndpointChange] = []
        let byAddress = Dictionary(kept.map { ($0.address, $0) }, uniquingKeysWith: { a, _ in a })
        var satisfied: Set<IPAddress> = []
        for e in mine.sorted(by: { $0.id < $1.id }) {
            guard let d = byAddress[e.address], !satisfied.contains(e.address) else {
                let why = satisfied.contains(e.address) ? "a second endpoint for the same address"
                    : excluded[e.address] ?? "the address is no longer on any interface"
                deletes.append(.delete(e, reason: why))
                continue
            }
            let structural: EndpointFlags = [.signal, .subflow]
            if e.flags.intersection(structural) != d.flags.intersection(structural) || e.interfaceIndex != d.interfaceIndex || e.port != 0 {
                deletes.append(.delete(e, reason: "replaced: \(d.reason)"))
                continue  // re-added below
            }
            satisfied.insert(e.address)
            if rebuild.contains(PathSteering.key(d)), otherPathUsable(than: d, among: kept) { replace(e, with: d, in: &plan, &deletes); continue }
            let changeable: EndpointFlags = [.backup, .fullmesh]
            let want = e.flags.subtracting(changeable).union(d.flags.intersection(changeable))
            if want != e.flags { sets.append(.setFlags(e, to: want, reason: d.reason)) }
        }
        var usedIDs = Set(endpoints.map(\.id))
        for d in kept where !satisfied.contains(d.address) && !holdBack.contains(d.address) {
            guard let id = AddressID.lowestFree(excluding: usedIDs) else { break }
            usedIDs.insert(id)
            adds.append(.add(Endpoint(id: id, address: d.address, flags: d.flags, interfaceIndex: d.interfaceIndex), reason: d.reason))
        }
        plan.changes = deletes + sets + adds
        var listed: Set<IPAddress> = []
        for a in network.addresses {
            if let why = excluded[a.address], listed.insert(a.address).inserted {
                plan.skipped.append(SkippedAddress(address: a.address, interfaceIndex: a.interfaceIndex, reason: why))
            }
        }
        return plan
    }

    /// The endpoint `e` of a healed path, deleted to be added again with the
    /// flags `d` wants now: the only way to the in-kernel PM's stale subflows, as
    /// the kernel resets no subflow of its own.
    ///
    /// Only the delete is planned: the caller's next pass, a moment later, adds
    /// it again like any wanted address missing. Added at once, the new subflow
    /// from the connection's initial address would join with address id 0 before
    /// the peer got the RM_ADDR (id 0) the delete sent over another, maybe
    /// queued, path, and the peer would close it with the old one.
    /// Whether another wanted address of `d`'s family is on a path not `down`.
    /// A healed path's endpoint is replaced only then: with none, its subflows
    /// are all the connections have (a single uplink), and deleting the endpoint
    /// would close them, the initial one included; their own retransmission
    /// brings them back instead.
    static func otherPathUsable(than d: DesiredEndpoint, among wanted: [DesiredEndpoint]) -> Bool {
        let key = PathSteering.key(d)
        return wanted.contains { o in
            let k = PathSteering.key(o)
            return k != key && k.family == key.family && o.health != .down
        }
    }

    static func replace(_ e: Endpoint, with d: DesiredEndpoint, in plan: inout EndpointPlan,
                        _ deletes: inout [EndpointChange]) {
        deletes.append(.delete(e, reason: "replaced: \(PathSteering.key(d)) healed: its subflows, kept through the outage, "
            + "wait on a backed-off retransmission timer; added again in a moment"))
        plan.replacedOnHeal[e.address] = PathSteering.key(d)
    }

    /// The record after `change` was applied: what was found before the daemon
    /// first changed a setting stays, what it set now is noted; a setting taken
    /// back to what was found needs no restoring and leaves the record.
    public static func recording(_ change: SettingChange, in record: SettingsRecord) -> SettingsRecord {
        var r = record
        func note<T>(_ entry: inout ChangedSetting<T>?, from: T, to: T) {
            let found = entry?.found ?? from
            entry = found == to ? nil : ChangedSetting(found: found, set: to)
        }
        switch change {
        case .pathManager(let from, let to): note(&r.pathManager, from: from, to: to)
        case .scheduler(let from, let to): note(&r.scheduler, from: from, to: to)
        case .limits(let from, let to):
            if from.subflows != to.subflows { note(&r.subflows, from: from.subflows, to: to.subflows) }
            if from.addAddrAccepted != to.addAddrAccepted {
                note(&r.addAddrAccepted, from: from.addAddrAccepted, to: to.addAddrAccepted)
            }
        }
        return r
    }

    /// What giving back the recorded settings takes (`on_exit = "remove"`): each
    /// one still at the value the daemon set goes back to what was found; one
    /// someone changed since is theirs now and left alone (listed in `leftAlone`).
    public static func restoring(_ record: SettingsRecord, current: KernelSettingsSnapshot)
        -> (changes: [SettingChange], leftAlone: [String]) {
        var changes: [SettingChange] = []
        var leftAlone: [String] = []
        if let pm = record.pathManager {
            if current.pathManager == pm.set { changes.append(.pathManager(from: pm.set, to: pm.found)) } else {
                leftAlone.append("net.mptcp.path_manager is \(current.pathManager), not the \(pm.set) the daemon set")
            }
        }
        if let s = record.scheduler {
            if current.scheduler == s.set { changes.append(.scheduler(from: s.set, to: s.found)) } else {
                leftAlone.append("net.mptcp.scheduler is \(current.scheduler), not the \(s.set) the daemon set")
            }
        }
        var limits = current.limits
        if let n = record.subflows {
            if current.limits.subflows == n.set { limits.subflows = n.found } else {
                leftAlone.append("the subflows limit is \(current.limits.subflows), not the \(n.set) the daemon set")
            }
        }
        if let n = record.addAddrAccepted {
            if current.limits.addAddrAccepted == n.set { limits.addAddrAccepted = n.found } else {
                leftAlone.append("the add_addr_accepted limit is \(current.limits.addAddrAccepted), not the \(n.set) the daemon set")
            }
        }
        if limits != current.limits { changes.append(.limits(from: current.limits, to: limits)) }
        return (changes, leftAlone)
    }

    /// The namespace-wide settings the policy changes; absent keys keep the kernel's values.
    public static func settingsChanges(policy: Policy, current: KernelSettingsSnapshot) -> [SettingChange] {
        var changes: [SettingChange] = []
        let k = policy.kernel
        if let pm = k.pathManager, pm != current.pathManager { changes.append(.pathManager(from: current.pathManager, to: pm)) }
        if let s = k.scheduler, s != current.scheduler { changes.append(.scheduler(from: current.scheduler, to: s)) }
        let limits = Limits(subflows: k.subflowsLimit ?? current.limits.subflows,
                            addAddrAccepted: k.addAddrAcceptedLimit ?? current.limits.addAddrAccepted)
        if limits != current.limits { changes.append(.limits(from: current.limits, to: limits)) }
        return changes
    }
}
