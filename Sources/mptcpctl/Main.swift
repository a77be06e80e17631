import ArgumentParser
import MPTCPAPI
import MPTCPKit
#if canImport(Glibc)
import Glibc
#endif

/// `mptcpctl`: the MPTCP control tool. Talks to the kernel directly.
@main
struct MPTCPCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mptcpctl",
        abstract: "Control Linux Multipath TCP: endpoints, limits, path manager, scheduler, subflows and events.",
        discussion: "Run 'mptcpctl help COMMAND' for a command's options. See mptcpctl(8).",
        version: mptcpctlVersion,
        subcommands: [
            EndpointCommand.self, LimitsCommand.self, PathManagerCommand.self, SchedulerCommand.self,
            MonitorCommand.self, ConnectionsCommand.self, SubflowCommand.self, AnnounceCommand.self,
            RemoveCommand.self, ListenCommand.self, CheckCommand.self, PlanCommand.self, StatusCommand.self, PathsCommand.self, ReloadCommand.self, DispatchCommand.self, MetricsCommand.self,
            DoctorCommand.self, TopCommand.self,
        ]
    )

    /// Declared on the root too, so that the generated completion scripts know that
    /// `-n` takes a namespace before the command words (`mptcpctl -n NS endpoint …`);
    /// Invocation moves them behind the command words before parsing.
    @OptionGroup var global: GlobalOptions

    /// Exit statuses (documented in mptcpctl(8)).
    enum Status {
        static let failure: Int32 = 1
        static let usage: Int32 = 64
    }

    /// Parses, runs, and turns every failure into one report on stderr (a line, or a
    /// JSON object with --json) and a non-zero exit.
    static func main() {
        let invocation = Invocation.current
        if let problem = invocation.problem { report(Failure(problem, invocation: invocation)) }
        let command: ParsableCommand
        do {
            command = try parseAsRoot(invocation.arguments)
        } catch {
            if exitCode(for: error) == .success {
                // `--help`, `help`, a completion callback: argument-parser reports these as a clean exit.
                var text = fullMessage(for: error)
                if invocation.arguments.first?.hasPrefix("--generate-completion-script") == true {
                    text = Completion.offeringHelpTopics(text)
                }
                if !text.isEmpty { Output.line(text) }
                Glibc.exit(0)
            }
            report(Failure(usage: message(for: error), invocation: invocation))
        }
        do {
            var command = command
            try command.run()
        } catch let exit as ExitCode {
            Glibc.exit(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                let text = fullMessage(for: error)
                if !text.isEmpty { Output.line(text) }
                Glibc.exit(0)
            }
            report(Failure(error, invocation: invocation, fallback: message(for: error)))
        }
    }

    /// Writes the failure (one line, or one JSON object with --json) and exits with its status.
    static func report(_ failure: Failure) -> Never {
        if Invocation.current.json {
            Output.errorJSON(failure.json)
        } else {
            Output.error("mptcpctl: " + failure.message)
        }
        Glibc.exit(failure.status)
    }
}

/// A bad command line found after parsing (a value, a contradiction, an ambiguity);
/// exits with the usage status.
struct UsageError: Error {
    var message: String
    var code: FailureCode
    init(_ message: String, code: FailureCode = .usage) {
        self.message = message
        self.code = code
    }
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: [.customShort("n"), .customLong("netns")], help: ArgumentHelp("Act in the network namespace NAME (/run/netns/NAME).", valueName: "NAME"),
            completion: Completion.namespaces)
    var netns: String?

    @Flag(name: [.customShort("j"), .long], help: "Print JSON instead of tables; errors become JSON objects on stderr.")
    var json = false

    /// Read through `Invocation.quiet`, so that notes printed before or without a parsed
    /// command follow it too; declared here so every command accepts and documents it.
    @Flag(name: [.customShort("q"), .long], help: "Do not print notes (such as 'no mptcpctld answers') on stderr.")
    var quiet = false

    @Option(name: .customLong("socket"), help: ArgumentHelp(
        "mptcpctld's control socket (default /run/mptcpctl/mptcpctld.sock; mptcpctld-NAME.sock with -n NAME or when run inside namespace NAME).",
        valueName: "PATH"))
    var socket: String?

    func namespace() throws -> NetworkNamespace {
        guard let netns else { return .current }
        return try NetworkNamespace(named: netns)
    }

    /// mptcpctld's control socket: `--socket`, else the daemon's default for the
    /// namespace (`-n`). Without -n or --socket, the daemon is the one of the namespace
    /// this process runs in: `ip netns exec NAME mptcpctl …` talks to
    /// mptcpctld-NAME.sock, not to the host's daemon. In a namespace with no name, the
    /// default socket is refused when the daemon on it serves another namespace.
    /// Decided when a command first needs the daemon: the kernel-only commands never ask.
    var socketPath: String {
        get throws {
            if let socket { return socket }
            if netns != nil { return defaultControlSocketPath(namespace: netns) }
            switch NamespaceIdentity.current() {
            case .named(let name): return defaultControlSocketPath(namespace: name)
            case .host: return defaultControlSocketPath(namespace: nil)
            case .unnamed, .unknown:
                let path = defaultControlSocketPath(namespace: nil)
                guard NamespaceIdentity.socketPeerSharesNamespace(path) == false else { return path }
                throw UsageError("""
                    this process runs in a network namespace with no name under /run/netns, and the mptcpctld on \
                    \(path) serves another one: say which daemon to use with --socket PATH, or act on a named \
                    namespace with -n NAME
                    """)
            }
        }
    }
}
