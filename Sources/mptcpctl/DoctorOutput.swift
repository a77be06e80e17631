import MPTCPKit

/// How `doctor` prints its checks: one line each (`STATUS  ID  SUMMARY`), the
/// reason and fix indented below a check that is not ok, and a last line counting them.
enum DoctorOutput {
    static func print(_ checks: [DiagnosisCheck]) {
        let width = min(checks.map(\.id.count).max() ?? 0, 28)
        for check in checks {
            let status = check.status.rawValue.padding(to: 6)
            Output.line(status + check.id.padding(to: width + 2) + check.summary)
            guard check.status != .ok else { continue }
            let indent = String(repeating: " ", count: 6 + width + 2)
            if let reason = check.reason { Output.line(indent + "why: " + reason) }
            if let fix = check.fix { Output.line(indent + "fix: " + fix) }
        }
        let count = { (s: DiagnosisCheck.Status) in checks.filter { $0.status == s }.count }
        Output.line("\(checks.count) checks: \(count(.ok)) ok, \(count(.info)) info, \(count(.warn)) warn, \(count(.fail)) fail")
    }
}

private extension String {
    /// The string padded with spaces to `width` (never cut).
    func padding(to width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}

/// `doctor --json`: `{"status": "ok|info|warn|fail", "checks": [{"id", "status",
/// "summary", "reason", "fix"}]}` (reason and fix null when absent); documented in mptcpctl(8).
struct DoctorJSON: Encodable {
    struct Check: Encodable {
        var id: String
        var status: String
        var summary: String
        var reason: String?
        var fix: String?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(status, forKey: .status)
            try c.encode(summary, forKey: .summary)
            try c.encode(reason, forKey: .reason)
            try c.encode(fix, forKey: .fix)
        }

        enum CodingKeys: String, CodingKey { case id, status, summary, reason, fix }
    }

    var status: String
    var checks: [Check]

    init(_ checks: [DiagnosisCheck]) {
        status = checks.worst.rawValue
        self.checks = checks.map { Check(id: $0.id, status: $0.status.rawValue, summary: $0.summary, reason: $0.reason, fix: $0.fix) }
    }
}
