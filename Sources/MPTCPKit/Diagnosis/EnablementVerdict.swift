/// Whether MPTCP exists in this kernel and is on in this namespace (`net.mptcp.enabled`).
public enum EnablementVerdict {
    /// `sysctls`: whether /proc/sys/net/mptcp exists; `enabled`: `net.mptcp.enabled` as read.
    public static func check(sysctls: Bool, enabled: Result<String, MPTCPError>, fix: FixCommands) -> DiagnosisCheck {
        let id = "mptcp.enabled"
        guard sysctls else {
            return DiagnosisCheck(id: id, status: .fail, summary: "this kernel has no MPTCP (/proc/sys/net/mptcp is missing)",
                                  reason: "no MPTCP socket can be made on this host",
                                  fix: "boot a kernel built with CONFIG_MPTCP=y (Linux 5.15 or later)")
        }
        switch enabled {
        case .success("1"):
            return .ok(id, "net.mptcp.enabled = 1")
        case .success(let value):
            return DiagnosisCheck(id: id, status: .fail, summary: "net.mptcp.enabled = \(value)",
                                  reason: "MPTCP is off in this namespace: sockets asking for IPPROTO_MPTCP are refused, "
                                      + "applications fall back to plain TCP",
                                  fix: fix.sysctl("net.mptcp.enabled", "1"))
        case .failure(let error):
            return DiagnosisCheck(id: id, status: .fail, summary: "net.mptcp.enabled cannot be read",
                                  reason: error.description, fix: nil)
        }
    }
}
