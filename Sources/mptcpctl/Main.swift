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
            RemoveCommand.self, ListenCommand.self, CheckCommand.self, PlanCommand.self, StatusCommand.self, ReloadCommand.self, DispatchCommand.self, MetricsCommand.self,
        ]
    )

    /// Exit statuses (documented in mptcpctl(8)).
    enum Status {
        static let failure: Int32 = 1
        static let usage: Int32 = 64
    }

    /// Parses, runs, and turns every failure into one line on stderr and a non-zero exit.
    static func main() {
        let command: ParsableCommand
        do {
            command = try parseAsRoot(hoistingGlobalOptions(Array(CommandLine.arguments.dropFirst())))
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                Output.line(fullMessage(for: error))
                Glibc.exit(0)
            }
            fail(message(for: error), status: Status.usage)
        }
        do {
            var command = command
            try command.run()
        } catch let error as MPTCPError {
            fail(error.description, status: error.code == .invalidArgument ? Status.usage : Status.failure)
        } catch let error as UsageError {
            fail(error.message, status: Status.usage)
        } catch let error as DaemonUnavailable {
            fail(error.message, status: Status.failure)
        } catch let error as CommandFailure {
            fail(error.message, status: Status.failure)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // `help`, `--help` on a command group: argument-parser reports these as a clean exit.
                let text = fullMessage(for: error)
                if !text.isEmpty { Output.line(text) }
                Glibc.exit(0)
            }
            fail(message(for: error), status: code.rawValue == 0 ? Status.failure : code.rawValue)
        }
    }

    /// `ip -n NS mptcp ...` habits: global options may come before the command.
    /// ArgumentParser only accepts a subcommand's options after its name, so
    /// leading global options are moved behind the command words (before any `--`).
    static func hoistingGlobalOptions(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var rest = arguments[...]
        while let first = rest.first {
            if first == "-j" || first == "--json" {
                leading.append(first)
                rest = rest.dropFirst()
            } else if (first == "-n" || first == "--netns" || first == "--socket"), rest.count >= 2 {
                leading += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else if first.hasPrefix("--netns=") || first.hasPrefix("--socket=") || (first.hasPrefix("-n") && first.count > 2 && !first.hasPrefix("--")) {
                leading.append(first)
                rest = rest.dropFirst()
            } else {
                break
            }
        }
        guard !leading.isEmpty, !rest.isEmpty else { return arguments }
        var result = Array(rest)
        let end = result.firstIndex(of: "--") ?? result.endIndex
        result.insert(contentsOf: leading, at: end)
        return result
    }

    static func fail(_ message: String, status: Int32) -> Never {
        let line = message.split(separator: "\n").map { $0.trimmingCharacters(in: " \t") }.filter { !$0.isEmpty }
            .joined(separator: " ")
        Output.error("mptcpctl: " + (line.hasPrefix("Error: ") ? String(line.dropFirst(7)) : line))
        Glibc.exit(status)
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return s
    }
}

/// A bad command-line value found after parsing; exits with the usage status.
struct UsageError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: [.customShort("n"), .customLong("netns")], help: ArgumentHelp("Act in the network namespace NAME (/run/netns/NAME).", valueName: "NAME"))
    var netns: String?

    @Flag(name: [.customShort("j"), .long], help: "Print JSON instead of tables.")
    var json = false

    @Option(name: .customLong("socket"), help: ArgumentHelp(
        "mptcpctld's control socket (default /run/mptcpctl/mptcpctld.sock; mptcpctld-NAME.sock with -n NAME or when run inside namespace NAME).",
        valueName: "PATH"))
    var socket: String?

    func namespace() throws -> NetworkNamespace {
        guard let netns else { return .current }
        return try NetworkNamespace(named: netns)
    }

    /// Without -n or --socket, the daemon is the one of the namespace this process
    /// runs in: `ip netns exec NAME mptcpctl …` talks to mptcpctld-NAME.sock, not
    /// to the host's daemon. In a namespace with no name, the default socket is
    /// refused when the daemon on it serves another namespace.
    mutating func validate() throws {
        guard netns == nil, socket == nil else { return }
        switch NamespaceIdentity.current() {
        case .named(let name): socket = defaultControlSocketPath(namespace: name)
        case .host: return
        case .unnamed, .unknown:
            let path = defaultControlSocketPath(namespace: nil)
            guard NamespaceIdentity.socketPeerSharesNamespace(path) == false else { return }
            throw ValidationError("""
                this process runs in a network namespace with no name under /run/netns, and the mptcpctld on \
                \(path) serves another one: say which daemon to use with --socket PATH, or act on a named \
                namespace with -n NAME
                """)
        }
    }
}
