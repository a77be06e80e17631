/// The outcome of one check of `mptcpctl doctor`: what was found, and for a
/// warning or a failure why it matters and the command that fixes it.
public struct DiagnosisCheck: Hashable, Sendable {
    /// How a check came out. Only `fail` makes `doctor` exit 1.
    public enum Status: String, Hashable, Sendable, Comparable, CaseIterable {
        /// Works as MPTCP needs it.
        case ok
        /// Worth knowing, changes nothing (no daemon answers, a stand-in destination).
        case info
        /// Works, but not as well as it could (a limit lower than the endpoints, a deprecated address).
        case warn
        /// Keeps MPTCP, or a path of it, from working.
        case fail

        private var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
        public static func < (lhs: Status, rhs: Status) -> Bool { lhs.rank < rhs.rank }
    }

    /// Stable and machine-readable (`mptcp.enabled`, `route.10.0.2.1`): scripts match on it.
    public var id: String
    public var status: Status
    /// One line: what was found.
    public var summary: String
    /// Why a warning or a failure matters.
    public var reason: String?
    /// The command (or setting) that fixes it.
    public var fix: String?

    public init(id: String, status: Status, summary: String, reason: String? = nil, fix: String? = nil) {
        self.id = id
        self.status = status
        self.summary = summary
        self.reason = reason
        self.fix = fix
    }

    /// A check that found nothing wrong.
    public static func ok(_ id: String, _ summary: String) -> DiagnosisCheck {
        DiagnosisCheck(id: id, status: .ok, summary: summary)
    }
}

extension Array where Element == DiagnosisCheck {
    /// The worst status of the checks (`ok` when there are none).
    public var worst: DiagnosisCheck.Status { map(\.status).max() ?? .ok }
}

extension DiagnosisCheck {
    /// A failure turned into a warning, for an address nothing uses yet.
    var asWarningWhileUnused: DiagnosisCheck {
        guard status == .fail else { return self }
        var check = self
        check.status = .warn
        check.reason = (reason.map { $0 + "; " } ?? "") + "no endpoint uses this address yet, so nothing fails today"
        return check
    }
}
