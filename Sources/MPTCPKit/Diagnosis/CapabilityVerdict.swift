/// The kernel's MPTCP capabilities, probed, against what this host uses.
public enum CapabilityVerdict {
    /// `probed`: the probe's outcome, nil when it was not run. `used`: the flags the
    /// endpoints carry; `policyPathManager`: the one mptcpctld's policy wants.
    public static func check(_ probed: Result<KernelCapabilities, MPTCPError>?, usedFlags: EndpointFlags,
                             policyPathManager: String?) -> DiagnosisCheck {
        let id = "kernel.capabilities"
        switch probed {
        case nil:
            return DiagnosisCheck(id: id, status: .info, summary: "not probed (MPTCP is missing)")
        case .failure(let error)?:
            return DiagnosisCheck(id: id, status: .info, summary: "not probed: \(error.description)",
                                  reason: "the probe needs a throw-away network namespace (root)")
        case .success(let c)?:
            let kept: String = c.endpointFlags.names.isEmpty ? "none" : c.endpointFlags.names.joined(separator: " ")
            let dropped: String = c.missingFlags.isEmpty ? "" : " (not: \(c.missingFlags.names.joined(separator: " ")))"
            let managers: String = c.pathManagers.joined(separator: " ")
            let schedulers: String = c.schedulers.joined(separator: " ")
            let summary = "endpoint flags \(kept)\(dropped); path managers \(managers); schedulers \(schedulers)"
            if !c.sockets || !c.pathManagerFamily {
                return DiagnosisCheck(id: id, status: .fail, summary: summary,
                                      reason: !c.sockets ? "a fresh namespace cannot make MPTCP sockets: the kernel's MPTCP is unusable"
                                          : "the mptcp_pm generic-netlink family does not answer: endpoints and limits cannot be set",
                                      fix: "boot a kernel built with CONFIG_MPTCP=y (Linux 5.15 or later)")
            }
            let unsupported = usedFlags.intersection(c.missingFlags).subtracting(.implicit)
            if !unsupported.isEmpty {
                return DiagnosisCheck(id: id, status: .fail, summary: summary,
                                      reason: "endpoints carry \(unsupported.names.joined(separator: " ")), which this kernel drops")
            }
            if let wanted = policyPathManager, !c.pathManagers.contains(wanted) {
                return DiagnosisCheck(id: id, status: .fail, summary: summary,
                                      reason: "mptcpctld's policy wants the \(wanted) path manager, which this kernel does not offer",
                                      fix: "set [kernel] path_manager to one of: \(c.pathManagers.joined(separator: ", "))")
            }
            return .ok(id, summary)
        }
    }
}
