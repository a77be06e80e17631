/// Which path manager makes the subflows, and whether mptcpctld runs and owns it.
public enum PathManagerVerdict {
    /// The `daemon` check: whether mptcpctld answers. No daemon is information, not a
    /// failure: the kernel's own path manager works without one.
    public static func daemon(_ plane: ControlPlaneFacts) -> DiagnosisCheck {
        let id = "daemon"
        switch plane.reachability {
        case .answers:
            var summary = (plane.description ?? "mptcpctld") + " answers"
            if let pm = plane.pathManager { summary += "; it runs the \(pm) path manager" }
            if let mode = plane.routingMode { summary += ", routing \(mode)" }
            return .ok(id, summary)
        case .absent(let socket):
            return DiagnosisCheck(id: id, status: .info, summary: "no mptcpctld answers on \(socket)",
                                  reason: "endpoints, limits and routing are what the kernel has (set by hand or by another tool)")
        case .unreachable(let socket, let reason):
            return DiagnosisCheck(id: id, status: .warn, summary: "mptcpctld on \(socket) cannot be asked",
                                  reason: reason + "; the checks below do without its policy",
                                  fix: "run doctor as root (or as a member of [daemon] socket_group)")
        }
    }

    /// The `path-manager` check: the selected one, against what the daemon runs and its policy.
    public static func pathManager(selected: Result<String, MPTCPError>, available: [String], plane: ControlPlaneFacts,
                                   fix: FixCommands) -> DiagnosisCheck {
        let id = "path-manager"
        let current: String
        switch selected {
        case .success(let name): current = name
        case .failure(let error):
            return DiagnosisCheck(id: id, status: .fail, summary: "the path manager cannot be read", reason: error.description)
        }
        let summary = "net.mptcp.path_manager = \(current)" + (available.isEmpty ? "" : " (available: \(available.joined(separator: " ")))")
        if plane.answers, let wanted = plane.policyPathManager, wanted != current {
            return DiagnosisCheck(id: id, status: .fail, summary: summary,
                                  reason: "mptcpctld's policy selects the \(wanted) path manager, and the kernel has \(current): "
                                      + "something changed it behind the daemon",
                                  fix: fix.mptcpctl("path-manager set \(wanted)") + " (or " + fix.mptcpctl("reload") + ")")
        }
        if current == "userspace" && !(plane.answers && plane.userspacePathManager) {
            let who = plane.answers ? "mptcpctld runs, but not as the userspace path manager" : "no mptcpctld answers"
            return DiagnosisCheck(id: id, status: .warn, summary: summary,
                                  reason: "\(who): unless another daemon (mptcpd) manages connections, none gets a second subflow",
                                  fix: "start mptcpctld with [kernel] path_manager = \"userspace\", or " + fix.mptcpctl("path-manager set kernel"))
        }
        let owner = plane.answers ? (plane.userspacePathManager ? "; mptcpctld manages the connections"
                                                                : "; mptcpctld manages the endpoints") : ""
        return .ok(id, summary + owner)
    }
}
