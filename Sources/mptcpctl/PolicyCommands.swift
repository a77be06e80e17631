import ArgumentParser
import MPTCPAPI
import MPTCPKit
#if canImport(Glibc)
import Glibc
#endif

/// `mptcpctl check` and `mptcpctl plan` run `mptcpctld --check` / `--plan`: the
/// policy parser (TOMLKit, and with it Foundation) stays out of this binary,
/// whose start-up time is measured against `ip`.
enum Daemon {
    /// `mptcpctld` next to this executable, else on PATH.
    static func executable() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n > 0 {
            let me = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let slash = me.lastIndex(of: "/") {
                let sibling = String(me[..<slash]) + "/mptcpctld"
                if access(sibling, X_OK) == 0 { return sibling }
            }
        }
        return "mptcpctld"
    }

    /// Replaces this process with `mptcpctld ARGS`; returns only on failure.
    static func exec(_ arguments: [String]) throws -> Never {
        let path = executable()
        let argv = (["mptcpctld"] + arguments).map { strdup($0) } + [nil]
        if path.contains("/") { execv(path, argv) } else { execvp(path, argv) }
        let code = errno
        throw CommandFailure("cannot run \(path): \(String(cString: strerror(code))); is mptcpctld installed next to mptcpctl?", code: .system)
    }
}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a mptcpctld policy file: exit 0 when valid, 1 with every problem listed.",
        discussion: """
            Runs the daemon's own start-up validation (mptcpctld --check): the file, the kernel's path managers \
            and schedulers (in -n NAME's namespace), groups, directories, the socket path and the metrics address. \
            Warnings (valid but without effect) go to stderr; -j prints one JSON object with valid, counts, \
            warnings and problems.
            """
    )

    @Argument(help: ArgumentHelp("The policy file (default: /etc/mptcpctl/mptcpctld.toml).", valueName: "FILE"))
    var file: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        var args = ["--check"]
        if let file { args += ["--config", file] }
        if let netns = global.netns { args += ["--netns", netns] }
        if global.json { args.append("--json") }
        try Daemon.exec(args)
    }
}

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what mptcpctld would change now, changing nothing: exit 0 nothing to do, 2 changes, 1 error.",
        discussion: """
            Without --config and with mptcpctld running, the daemon answers under the policy it runs and the \
            endpoints it owns; otherwise the file is read and planned here.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The policy file (default: /etc/mptcpctl/mptcpctld.toml).", valueName: "FILE"))
    var config: String?

    func run() throws {
        if config == nil, let daemon = try DaemonConnection.ifRunning(try global.socketPath) {
            let plan = try daemon.result(ControlMethods.PolicyPlan.self).record
            if global.json {
                // `mptcpctld --plan --json`'s members, without the text and the count.
                Output.line(RPCWire.text(.object(plan.plan)))
            } else {
                Output.text(plan.text)
            }
            if plan.pending > 0 { Glibc.exit(2) }
            return
        }
        var args = ["--plan"]
        if let config { args += ["--config", config] }
        if let netns = global.netns { args += ["--netns", netns] }
        if global.json { args.append("--json") }
        try Daemon.exec(args)
    }
}
