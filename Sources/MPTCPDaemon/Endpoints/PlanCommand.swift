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
            result = try PlanResult(kernel: kernel, owned: try store.load().endpoints, policy: policy)
        } catch {
            throw Failure("plan: \(error)")
        }
        print(json ? String(decoding: try result.json(), as: UTF8.self) : result.text, terminator: json ? "\n" : "")
        return result.isEmpty ? 0 : 2
    }
}

/// What the daemon would change now: its endpoint plan and the kernel settings
/// to set, with interface names; rendered for `--plan` and `policy.plan`.
struct PlanResult {
    let plan: EndpointPlan
    let settings: [SettingChange]
    let names: [Int32: String]

    init(kernel: KernelHandle, owned: Set<OwnedEndpoint>, policy: Policy) throws {
        try self.init(kernel: kernel.endpointKernel, owned: owned, policy: policy)
    }

    init(kernel: EndpointKernel, owned: Set<OwnedEndpoint>, policy: Policy) throws {
        let network = try kernel.network.read()
        plan = try kernel.observe(owned: owned, policy: policy, network: network)
        settings = Planner.settingsChanges(policy: policy, current: try kernel.settings())
        names = Dictionary(network.links.map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
    }

    var isEmpty: Bool { plan.changes.isEmpty && settings.isEmpty }

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
        for w in plan.warnings { print("warning: " + w) }
        let count = plan.changes.count + settings.count
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
        return PlanJSON(
            changes: changes, foreign: plan.foreign.map(ep),
            skipped: plan.skipped.map { SkippedJSON(address: $0.address.description, interface: names[$0.interfaceIndex] ?? "if\($0.interfaceIndex)", reason: $0.reason) },
            warnings: plan.warnings)
    }
}
