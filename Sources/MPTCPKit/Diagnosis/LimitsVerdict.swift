/// The in-kernel path manager's per-connection limits against the endpoints that
/// want subflows, and against the limits mptcpctld's policy sets.
public enum LimitsVerdict {
    public static func check(limits: Result<Limits, MPTCPError>, endpoints: [Endpoint], pathManager: String?,
                             plane: ControlPlaneFacts, fix: FixCommands) -> DiagnosisCheck {
        let id = "limits"
        if pathManager == "userspace" {
            return DiagnosisCheck(id: id, status: .info, summary: "not used: the userspace path manager decides the subflows itself")
        }
        let l: Limits
        switch limits {
        case .success(let read): l = read
        case .failure(let error):
            return DiagnosisCheck(id: id, status: .fail, summary: "the limits cannot be read", reason: error.description)
        }
        let summary = "subflows \(l.subflows), add_addr_accepted \(l.addAddrAccepted)"
        if plane.answers {
            var differences: [String] = []
            var settings: [String] = []
            if let p = plane.policySubflowsLimit, p != l.subflows {
                differences.append("subflows_limit = \(p)")
                settings.append("--subflows \(p)")
            }
            if let p = plane.policyAddAddrAcceptedLimit, p != l.addAddrAccepted {
                differences.append("add_addr_accepted_limit = \(p)")
                settings.append("--add-addr-accepted \(p)")
            }
            if !differences.isEmpty {
                return DiagnosisCheck(id: id, status: .warn, summary: summary,
                                      reason: "mptcpctld's policy sets \(differences.joined(separator: ", ")): something changed the kernel's limits behind it",
                                      fix: fix.mptcpctl("limits set " + settings.joined(separator: " ")))
            }
        }
        let wanting = endpoints.filter { $0.flags.contains(.subflow) }.count
        if wanting > 0 && l.subflows == 0 {
            return DiagnosisCheck(id: id, status: .fail, summary: summary,
                                  reason: "\(wanting) endpoint(s) want a subflow, and the limit allows none: every connection stays on one path",
                                  fix: fix.mptcpctl("limits set --subflows \(min(wanting, Int(Limits.maximum)))"))
        }
        if UInt32(wanting) > l.subflows {
            return DiagnosisCheck(id: id, status: .warn, summary: summary,
                                  reason: "\(wanting) endpoints want a subflow, and the limit allows \(l.subflows) per connection",
                                  fix: fix.mptcpctl("limits set --subflows \(min(wanting, Int(Limits.maximum)))"))
        }
        if l.addAddrAccepted == 0 && l.subflows > 0 {
            return DiagnosisCheck(id: id, status: .info, summary: summary,
                                  reason: "addresses peers announce are not used (add_addr_accepted 0): fine unless a server announces its other addresses",
                                  fix: fix.mptcpctl("limits set --add-addr-accepted \(l.subflows)"))
        }
        return .ok(id, summary)
    }
}
