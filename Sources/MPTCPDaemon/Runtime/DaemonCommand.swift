import ArgumentParser
import FoundationEssentials
import Logging
import MPTCPAPI
import MPTCPKit
import Metrics
import MPTCPPolicy
import Prometheus
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// `mptcpctld`: keeps the kernel's MPTCP endpoints in line with a policy file.
public struct MPTCPCtlD: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "mptcpctld",
        abstract: "Keep the kernel's MPTCP endpoints in line with a policy file.",
        discussion: "Runs in the foreground; SIGHUP reloads the file, SIGTERM stops. See mptcpctld(8) and mptcpctld.toml(5).",
        version: mptcpctlVersion
    )

    public init() {}

    static let defaultConfig = "/etc/mptcpctl/mptcpctld.toml"

    @Option(help: ArgumentHelp("The policy file.", valueName: "FILE"))
    var config: String = MPTCPCtlD.defaultConfig

    @Option(name: [.customShort("n"), .customLong("netns")], help: ArgumentHelp("Act in the network namespace NAME (/run/netns/NAME).", valueName: "NAME"))
    var netns: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (overrides the file).", valueName: "LEVEL"))
    var logLevel: String?

    @Flag(help: "Validate the policy file (against the running kernel too) and exit: 0 valid, 1 with every problem listed.")
    var check = false

    @Flag(help: "Print the changes the daemon would make now and exit: 0 nothing to do, 2 changes, 1 error.")
    var plan = false

    @Flag(name: [.customShort("j"), .long], help: "With --check or --plan: print JSON.")
    var json = false

    public func validate() throws {
        if check && plan { throw ValidationError("--check and --plan exclude each other") }
        if json && !plan && !check { throw ValidationError("--json goes with --check or --plan") }
        if let logLevel, LogLevel(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of: " + LogLevel.allCases.map(\.rawValue).joined(separator: ", "))
        }
    }

    /// Without `-n`, the name of the namespace `ip netns exec NAME` started us
    /// in, so that its socket, lock and ownership record are the ones `-n NAME`
    /// would use (and the CLI, run the same way, finds this daemon); nil on the
    /// host or in a namespace with no name under /run/netns.
    static func enclosingNamespaceName() -> String? {
        if case .named(let name) = NamespaceIdentity.current() { return name }
        return nil
    }

    public func run() async throws {
        let namespace = try resolveNamespace()
        guard let checked = try loadPolicy(namespace: namespace) else { return }
        if plan {
            throw ExitCode(try PlanCommand(policy: checked.policy, namespace: namespace, json: json).run())
        }
        try await serve(checked, namespace: namespace)
    }

    /// `-n NAME`, else the namespace `ip netns exec` started us in, else the current one.
    private func resolveNamespace() throws -> NetworkNamespace {
        do {
            let namespace = try (netns ?? Self.enclosingNamespaceName()).map { try NetworkNamespace(named: $0) } ?? .current
            // A namespace that does not exist is said once, here, for every mode.
            try namespace.perform {}
            return namespace
        } catch {
            throw Failure(error)
        }
    }

    /// The checked policy; nil after `--check` has reported on a valid one.
    private func loadPolicy(namespace: NetworkNamespace) throws -> CheckedPolicy? {
        let checked: CheckedPolicy
        switch PolicyFile.load(path: config, namespace: namespace) {
        case .success(let c): checked = c
        case .failure(let problems):
            guard json else {
                for line in problems.lines { StandardError.write(line + "\n") }
                throw ExitCode(1)
            }
            // --check keeps its report on stdout (valid: false); both modes fail with one error object.
            let report = CheckReport(file: config, policy: nil, warnings: [], problems: problems.diagnostics)
            if check { print(report.json) }
            throw Failure("the policy file is invalid: " + problems.lines.joined(separator: "; "),
                          code: "invalid-policy", problems: report.problemsJSON)
        }
        guard check else { return checked }
        let report = CheckReport(file: config, policy: checked.policy, warnings: checked.warnings, problems: [])
        if json {
            print(report.json)
        } else {
            for w in checked.warnings { StandardError.write("warning: " + w.formatted(file: config) + "\n") }
            print(report.text)
        }
        return nil
    }

    /// The entry point (`main.swift`). Exit statuses: 1 failure, 64 usage (as mptcpctl).
    /// With `--json` (`--check`, `--plan`), a failure is one JSON object on
    /// stderr, `{"error": {"code", "message", "status", …}}`, as mptcpctl prints them.
    public static func launch() async {
        var json = false
        do {
            var command = try parseAsRoot()
            json = (command as? MPTCPCtlD)?.json ?? false
            if var async = command as? AsyncParsableCommand { try await async.run() } else { try command.run() }
        } catch let failure as Failure {
            if json {
                StandardError.write(RPCWire.text(failure.json) + "\n")
            } else {
                StandardError.write("mptcpctld: " + failure.message + "\n")
            }
            Glibc.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                let text = fullMessage(for: error)
                if !text.isEmpty { print(text) }
                Glibc.exit(0)
            }
            if error is ExitCode { Glibc.exit(code.rawValue) }
            let message = message(for: error)
            StandardError.write("mptcpctld: " + message + "\n")
            Glibc.exit(code == .validationFailure ? 64 : code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}

/// The id of group `name`, for the `key` that names it.
func requireGroup(_ key: String, _ name: String) throws -> UInt32 {
    guard let id = groupID(name) else { throw Failure("\(key): no group \"\(name)\" on this system") }
    return id
}
