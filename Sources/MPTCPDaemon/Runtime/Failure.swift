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

/// A start-up failure: one line on stderr (with --json, mptcpctl's error object), exit 1.
struct Failure: Error {
    var message: String
    /// mptcpctl's failure code (mptcpctl(8), JSON ERRORS): `failure`, `not-found`, `invalid-policy`, ….
    var code: String
    /// `invalid-policy`: every problem, as `--check --json` lists them.
    var problems: JSONValue?
    init(_ message: String, code: String = "failure", problems: JSONValue? = nil) {
        self.message = message
        self.code = code
        self.problems = problems
    }

    /// Classified as mptcpctl classifies it: a namespace that does not exist is `not-found`.
    init(_ error: Error) {
        let notFound = (error as? MPTCPError)?.code == .notFound
        self.init("\(error)", code: notFound ? "not-found" : "failure")
    }

    /// `{"error": {"code", "message", "status": 1, "problems"?}}`.
    var json: JSONValue {
        var fields: [String: JSONValue] = ["code": .string(code), "message": .string(message), "status": .integer(1)]
        if let problems { fields["problems"] = problems }
        return ["error": .object(fields)]
    }
}

extension Failure: CustomStringConvertible {
    var description: String { message }
}
