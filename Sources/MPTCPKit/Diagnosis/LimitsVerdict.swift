/// The in-kernel path manager's per-connection limits against the endpoints that
/// want subflows, and against the limits mptcpctld's policy sets.
///
/// What the kernel gates (checked on 6.18 in private namespaces): `subflows`
/// bounds the subflows a connection opens from `subflow` endpoints *and* the
/// joins it accepts (with 0 every MP_JOIN a peer sends is rejected); a `signal`
/// endpoint is announced whatever the limits, and a peer joins it only when the
/// peer's `add_addr_accepted` and `subflows` allow (not visible from here) and
/// this host's `subflows` accepts the join; `add_addr_accepted` lets this host
/// use a peer's announcements only while `subflows` is above 0.
public enum LimitsVerdict {
    /// `isServer`: this namespace has an MPTCP listener (peers may join it).
    public static func check(limits: Result<Limits, MPTCPError>, endpoints: [Endpoint], pathManager: String?,
                             isServer: Bool = false, plane: ControlPlaneFacts, fix: FixCommands) -> DiagnosisCheck {
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
        return endpointsAgainst(l, endpoints: endpoints, isServer: isServer, summary: summary, fix: fix)
    }

    /// The limits against what the endpoints (and a listener) ask of them.
    static func endpointsAgainst(_ l: Limits, endpoints: [Endpoint], isServer: Bool, summary: String,
                                 fix: FixCommands) -> DiagnosisCheck {
        let id = "limits"
        let wanting = endpoints.filter { $0.flags.contains(.subflow) }.count
        let signalling = endpoints.filter { $0.flags.contains(.signal) }.count
        func raise(to n: Int) -> String { fix.mptcpctl("limits set --subflows \(min(max(n, 1), Int(Limits.maximum)))") }
        if wanting > 0 && l.subflows == 0 {
            return DiagnosisCheck(id: id, status: .fail, summary: summary,
                                  reason: "\(wanting) endpoint(s) want a subflow, and the limit allows none: every connection stays on one path",
                                  fix: raise(to: wanting))
        }
        if isServer && signalling > 0 && l.subflows == 0 {
            return DiagnosisCheck(id: id, status: .fail, summary: summary,
                                  reason: "\(signalling) signal endpoint(s) announce addresses for peers to join, and with the subflows limit 0 "
                                      + "the kernel rejects every join: each connection stays on its first path",
                                  fix: raise(to: signalling))
        }
        if isServer && l.subflows == 0 {
            return DiagnosisCheck(id: id, status: .warn, summary: summary,
                                  reason: "this host accepts MPTCP connections and the subflows limit 0 rejects every join: "
                                      + "clients' extra subflows are refused",
                                  fix: raise(to: 2))
        }
        if UInt32(wanting) > l.subflows {
            return DiagnosisCheck(id: id, status: .warn, summary: summary,
                                  reason: "\(wanting) endpoints want a subflow, and the limit allows \(l.subflows) per connection",
                                  fix: raise(to: wanting))
        }
        if isServer && UInt32(signalling) > l.subflows {
            return DiagnosisCheck(id: id, status: .warn, summary: summary,
                                  reason: "\(signalling) signal endpoints are announced, and the limit accepts \(l.subflows) join(s) per connection",
                                  fix: raise(to: signalling))
        }
        if !isServer && l.addAddrAccepted > 0 && l.subflows == 0 {
            return DiagnosisCheck(id: id, status: .warn, summary: summary,
                                  reason: "add_addr_accepted \(l.addAddrAccepted), and with the subflows limit 0 the kernel opens no subflow "
                                      + "to any address a peer announces",
                                  fix: raise(to: Int(l.addAddrAccepted)))
        }
        if !isServer && l.addAddrAccepted == 0 && l.subflows > 0 {
            return DiagnosisCheck(id: id, status: .info, summary: summary,
                                  reason: "addresses peers announce are not used (add_addr_accepted 0): fine unless a server announces its other addresses",
                                  fix: fix.mptcpctl("limits set --add-addr-accepted \(l.subflows)"))
        }
        if isServer && signalling > 0 {
            return .ok(id, summary + "; the \(signalling) announced address(es) are joined by peers whose own limits allow it "
                           + "(add_addr_accepted and subflows above 0 on the client)")
        }
        return .ok(id, summary)
    }
}
