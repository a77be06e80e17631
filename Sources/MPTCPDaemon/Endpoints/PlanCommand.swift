import FoundationEssentials
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy

/// `mptcpctld --plan` (and so `mptcpctl plan`): what the daemon would change
/// now, changing nothing. Returns 0 when there is nothing to do, 2 otherwise.
struct PlanCommand {
    let policy: Policy
    let namespace: NetworkNamespace
    let json: Bool

    func run() throws -> Int32 {
        let result: PlanResult
        do {
            let kernel = try KernelHandle(namespace: namespace)
            let store = OwnershipStore(directory: policy.daemon.stateDirectory, namespace: namespace)
            let record = try store.load()
            result = try PlanResult(kernel: kernel, owned: record.endpoints, routing: record.routing, policy: policy)
        } catch {
            throw Failure("plan: \(error)")
        }
        print(json ? String(decoding: try result.json(), as: UTF8.self) : result.text, terminator: json ? "\n" : "")
        return result.isEmpty ? 0 : 2
    }
}

/// What the daemon would change now: its endpoint plan, the kernel settings
/// to set and the source routing (rules, routes, rp_filter, notes), with
/// interface names; rendered for `--plan` and `policy.plan`. `health`: the
/// path health the daemon steers by (`--plan` alone knows none: every path healthy).
struct PlanResult {
    let plan: EndpointPlan
    let settings: [SettingChange]
    let routing: RoutingPlanView
    let names: [Int32: String]

    init(kernel: KernelHandle, owned: Set<OwnedEndpoint>, routing: RoutingOwnership, policy: Policy,
         health: PathHealthView = .none) throws {
        try self.init(kernel: kernel.endpointKernel, routingKernel: kernel.routingKernel, owned: owned, routing: routing, policy: policy,
                      health: health)
    }

    init(kernel: EndpointKernel, routingKernel: RoutingKernel, owned: Set<OwnedEndpoint>, routing: RoutingOwnership,
         policy: Policy, health: PathHealthView = .none) throws {
        let network = try kernel.network.read()
        plan = try kernel.observe(owned: owned, policy: policy, network: network, health: health)
        settings = Planner.settingsChanges(policy: policy, current: try kernel.settings())
        self.routing = try RoutingPlanView(kernel: routingKernel, owned: routing, policy: policy, network: network, health: health)
        names = Dictionary(network.links.map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
    }

    /// Endpoint, setting and routing changes pending.
    var pending: Int { plan.changes.count + settings.count + routing.plan.changes.count }

    var isEmpty: Bool { pending == 0 }

    var text: String {
        var out = ""
        func print(_ line: String, terminator: String = "\n") { out += line + terminator }
        var rows: [[String]] = []
        func describe(_ e: Endpoint) -> [String] {
            ["id \(e.id)", e.address.description, e.interfaceIndex == 0 ? "-" : "dev " + (names[e.interfaceIndex] ?? "if\(e.interfaceIndex)")]
        }
        for change in plan.changes {
            switch change {
            case .add(let e, let why): rows.append(["add"] + describe(e) + [e.flags.names.joined(separator: ","), "# " + why])
            case .delete(let e, let why): rows.append(["delete"] + describe(e) + [e.flags.names.joined(separator: ","), "# " + why])
            case .setFlags(let e, let flags, let why):
                rows.append(["set"] + describe(e) + [flags.names.joined(separator: ",") + " (was " + e.flags.names.joined(separator: ",") + ")", "# " + why])
            }
        }
        for e in plan.foreign {
            rows.append(["foreign"] + describe(e) + [e.flags.names.joined(separator: ","), "# not added by mptcpctld; left alone"])
        }
        for s in plan.skipped {
            rows.append(["skip", "-", s.address.description, "dev " + (names[s.interfaceIndex] ?? "if\(s.interfaceIndex)"), "", "# " + s.reason])
        }
        for change in settings {
            switch change {
            case .pathManager(let from, let to): print("sysctl  net.mptcp.path_manager: \(from) -> \(to)")
            case .scheduler(let from, let to): print("sysctl  net.mptcp.scheduler: \(from) -> \(to)")
            case .limits(let from, let to):
                print("limits  subflows \(from.subflows) -> \(to.subflows), add_addr_accepted \(from.addAddrAccepted) -> \(to.addAddrAccepted)")
            }
        }
        print(table(rows), terminator: "")
        print(table(routing.rows), terminator: "")
        for w in plan.warnings { print("warning: " + w) }
        for n in routing.noteLines { print(n) }
        let count = pending
        print(count == 0 ? "no changes: the kernel matches the policy" : "\(count) change\(count == 1 ? "" : "s") pending")
        return out
    }

    private func table(_ rows: [[String]]) -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: columns)
        for r in rows { for (i, c) in r.enumerated() where i < columns - 1 { widths[i] = max(widths[i], c.count) } }
        return rows.map { r in
            r.enumerated().map { i, c in i < r.count - 1 ? c + String(repeating: " ", count: widths[i] - c.count + 2) : c }
                .joined().trimmingWhitespace()
        }.joined(separator: "\n") + (rows.isEmpty ? "" : "\n")
    }

    /// The endpoint object of `mptcpctl endpoint show --json` (one schema wherever endpoints appear).
    private struct EndpointJSON: Encodable {
        var id: UInt8
        var address: String
        var port: UInt16?
        var flags: [String]
        var interface: String?
    }

    private struct ChangeJSON: Encodable {
        var action: String
        var endpoint: EndpointJSON?
        var flags: [String]?
        var rule: RoutingPlanView.RuleJSON?
        var route: RoutingPlanView.RouteJSON?
        var interface: String?
        var from: String?
        var to: String?
        var reason: String?
    }

    private struct SkippedJSON: Encodable {
        var address: String
        var interface: String
        var reason: String
    }

    private struct PlanJSON: Encodable {
        var changes: [ChangeJSON]
        var foreign: [EndpointJSON]
        var skipped: [SkippedJSON]
        var warnings: [String]
        var routingNotes: [RoutingPlanView.NoteJSON]

        enum CodingKeys: String, CodingKey {
            case changes, foreign, skipped, warnings, routingNotes = "routing_notes"
        }
    }

    /// `mptcpctld --plan --json`'s bytes (sorted keys).
    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(document())
    }

    /// The same document as a JSON value, for the control API's `policy.plan`
    /// (encoded straight to a value, not written out and read back).
    func jsonValue() throws -> JSONValue {
        try JSONValueEncoder().encode(document())
    }

    private func document() -> PlanJSON {
        func ep(_ e: Endpoint) -> EndpointJSON {
            EndpointJSON(id: e.id, address: e.address.description, port: e.port == 0 ? nil : e.port, flags: e.flags.names,
                         interface: e.interfaceIndex == 0 ? nil : names[e.interfaceIndex] ?? "if\(e.interfaceIndex)")
        }
        var changes: [ChangeJSON] = settings.map { change in
            switch change {
            case .pathManager(let from, let to): return ChangeJSON(action: "set_path_manager", from: from, to: to)
            case .scheduler(let from, let to): return ChangeJSON(action: "set_scheduler", from: from, to: to)
            case .limits(let from, let to):
                return ChangeJSON(action: "set_limits", from: "subflows=\(from.subflows) add_addr_accepted=\(from.addAddrAccepted)",
                                  to: "subflows=\(to.subflows) add_addr_accepted=\(to.addAddrAccepted)")
            }
        }
        for change in plan.changes {
            switch change {
            case .add(let e, let why): changes.append(ChangeJSON(action: "add", endpoint: ep(e), reason: why))
            case .delete(let e, let why): changes.append(ChangeJSON(action: "delete", endpoint: ep(e), reason: why))
            case .setFlags(let e, let flags, let why):
                changes.append(ChangeJSON(action: "set", endpoint: ep(e), flags: flags.names, reason: why))
            }
        }
        changes += routing.plan.changes.map(routingChange)
        return PlanJSON(
            changes: changes, foreign: plan.foreign.map(ep),
            skipped: plan.skipped.map { SkippedJSON(address: $0.address.description, interface: names[$0.interfaceIndex] ?? "if\($0.interfaceIndex)", reason: $0.reason) },
            warnings: plan.warnings, routingNotes: routing.notes)
    }

    /// A routing change in `--plan --json`: `add_rule`, `remove_rule`, `add_route`,
    /// `remove_route`, `set_rp_filter`, `restore_rp_filter`.
    private func routingChange(_ change: RoutingChange) -> ChangeJSON {
        switch change {
        case .addRule(let r, let why): ChangeJSON(action: "add_rule", rule: routing.rule(r), reason: why)
        case .removeRule(let r, let why): ChangeJSON(action: "remove_rule", rule: routing.rule(r), reason: why)
        case .addRoute(let r, let why): ChangeJSON(action: "add_route", route: routing.route(r), reason: why)
        case .removeRoute(let r, let why): ChangeJSON(action: "remove_route", route: routing.route(r), reason: why)
        case .setReversePathFilter(let interface, let from, let to, let why):
            ChangeJSON(action: "set_rp_filter", interface: interface, from: String(from), to: String(to), reason: why)
        case .restoreReversePathFilter(let interface, let to, let why):
            ChangeJSON(action: "restore_rp_filter", interface: interface, to: String(to), reason: why)
        }
    }
}
