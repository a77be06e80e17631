import ArgumentParser
import MPTCPAPI
import MPTCPKit

/// The stable name of a kind of failure: `error.code` in the JSON error object.
/// The set is documented in mptcpctl(8) (JSON ERRORS); scripts match on it, so a
/// value once published keeps its meaning.
struct FailureCode: Hashable, Sendable, CustomStringConvertible {
    let raw: String
    /// The command line is wrong: a value, a missing or contradictory option (exit 64).
    static let usage = FailureCode(raw: "usage")
    /// The first word, or a group's subcommand, names no command (exit 64).
    static let unknownCommand = FailureCode(raw: "unknown-command")
    /// A name matches several objects (endpoints, subflows); the message lists them (exit 64).
    static let ambiguous = FailureCode(raw: "ambiguous")
    /// The kernel refused; `errno` and `kernel_message` say why (exit 1).
    static let kernel = FailureCode(raw: "kernel")
    /// Something named does not exist: an endpoint, a namespace, an interface (exit 1).
    static let notFound = FailureCode(raw: "not-found")
    /// A system call failed; `errno` says which (exit 1).
    static let system = FailureCode(raw: "system")
    /// The kernel's or the daemon's answer could not be decoded (exit 1).
    static let `protocol` = FailureCode(raw: "protocol")
    /// No mptcpctld answers on the control socket, or it may not be reached (exit 1).
    static let daemonUnavailable = FailureCode(raw: "daemon-unavailable")
    /// mptcpctld answered with an error; `daemon_error` is its API error name (exit 1).
    static let daemon = FailureCode(raw: "daemon")
    /// `reload`: the policy file is invalid, the daemon keeps the policy it runs (exit 1).
    static let invalidPolicy = FailureCode(raw: "invalid-policy")
    /// Anything else that ran and failed (exit 1).
    static let failure = FailureCode(raw: "failure")

    var description: String { raw }
}

/// One failure as it is reported: a line (`mptcpctl: MESSAGE`) or, with --json, the
/// object `{"error": {"code", "message", "status", ...}}`, and the exit status.
struct Failure {
    var code: FailureCode
    var message: String
    var status: Int32
    var errno: Int32?
    var kernelMessage: String?
    var daemonError: String?

    init(code: FailureCode, message: String, status: Int32) {
        self.code = code
        self.message = Self.oneLine(message)
        self.status = status
    }

    /// A command-line error: named after the command the user typed (`endpoint set: ...`).
    init(usage message: String, code: FailureCode = .usage, invocation: Invocation) {
        // An unknown command names the words itself; there is no command to name it after.
        let verb = code == .unknownCommand ? "" : invocation.commandPath.joined(separator: " ")
        var text = Self.oneLine(message)
        if text.hasPrefix("Error: ") { text.removeFirst(7) }
        self.init(code: code, message: verb.isEmpty ? text : "\(verb): \(text)", status: MPTCPCtl.Status.usage)
    }

    init(_ problem: UsageError, invocation: Invocation) {
        self.init(usage: problem.message, code: problem.code, invocation: invocation)
    }

    /// Classifies what a command threw; `fallback` is argument-parser's text for errors it knows.
    init(_ error: Error, invocation: Invocation, fallback: String) {
        switch error {
        case let error as UsageError:
            self.init(error, invocation: invocation)
        case let error as MPTCPError:
            let usage = error.code == .invalidArgument
            let code: FailureCode = switch error.code {
            case .invalidArgument: .usage
            case .kernel: .kernel
            case .notFound: .notFound
            case .protocolViolation: .protocol
            default: .system
            }
            self.init(code: code, message: error.description, status: usage ? MPTCPCtl.Status.usage : MPTCPCtl.Status.failure)
            errno = error.errno
            kernelMessage = error.kernelMessage
        case let error as DaemonUnavailable:
            self.init(code: .daemonUnavailable, message: error.message, status: MPTCPCtl.Status.failure)
        case let error as CommandFailure:
            self.init(code: error.code, message: error.message, status: MPTCPCtl.Status.failure)
            daemonError = error.daemonError
        case is ValidationError:
            // A command's own check of its options, raised while running.
            self.init(usage: fallback, invocation: invocation)
        case let error as RPCError:
            // The daemon's answer could not be read (garbled, not the control API).
            self.init(code: .protocol, message: "mptcpctld's answer is not the control API: \(error)",
                      status: MPTCPCtl.Status.failure)
        default:
            // Anything else ran and failed: never blamed on the command line.
            self.init(code: .failure, message: fallback, status: MPTCPCtl.Status.failure)
        }
    }

    /// The `--json` form.
    var json: JSONValue {
        var fields: [String: JSONValue] = ["code": .string(code.raw), "message": .string(message),
                                           "status": .integer(Int64(status))]
        if let errno { fields["errno"] = .integer(Int64(errno)) }
        if let kernelMessage, !kernelMessage.isEmpty { fields["kernel_message"] = .string(kernelMessage) }
        if let daemonError { fields["daemon_error"] = .string(daemonError) }
        return ["error": .object(fields)]
    }

    /// argument-parser's multi-line messages (usage lines after the reason) on one line.
    static func oneLine(_ message: String) -> String {
        message.split(separator: "\n").map { line in
            var s = line[...]
            while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
            while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
            return String(s)
        }.filter { !$0.isEmpty }.joined(separator: " ")
    }
}
