import Glibc

/// What the connection to the peer showed: connected or not, MPTCP or fallen
/// back to TCP, and for each subflow (and each source that should have made
/// one) whether it reached ESTABLISHED, and why not — its TCP state and the
/// routing check's verdict for its source.
public enum PeerVerdict {
    /// `expected`: the addresses that should open a subflow; `routing`: the route and
    /// rp_filter checks by address.
    public static func checks(_ probe: PeerProbeResult, expected: [UsedAddress], routing: [IPAddress: [DiagnosisCheck]],
                              fix: FixCommands) -> [DiagnosisCheck] {
        let peer = probe.peer
        if let failure = probe.failure {
            return [DiagnosisCheck(id: "peer.connect", status: .fail, summary: "no MPTCP connection to \(peer)",
                                   reason: connectReason(failure), fix: connectFix(failure, fix: fix))]
        }
        var checks: [DiagnosisCheck] = []
        let local = probe.local.map { "\($0)" } ?? "?"
        if probe.negotiated {
            checks.append(.ok("peer.mptcp", "\(local) -> \(peer): MPTCP negotiated"))
        } else {
            checks.append(DiagnosisCheck(id: "peer.mptcp", status: .fail, summary: "\(local) -> \(peer): fell back to TCP",
                                         reason: "the peer, or a middlebox on the way, does not speak MPTCP: the connection is plain TCP",
                                         fix: "on the peer: sysctl -w net.mptcp.enabled=1, and a server that asks for MPTCP (mptcpize run SERVER)"))
            return checks
        }
        let waited = String(Int(probe.waited.rounded()))
        for s in probe.subflows {
            let id = "peer.subflow.\(s.localAddress)"
            // No interface named: an unbound subflow may leave by another one than its address's (the routing check says which).
            let path = "\(AddressAndPort(address: s.localAddress, port: s.localPort)) -> \(AddressAndPort(address: s.remoteAddress, port: s.remotePort))"
            if s.carriesTraffic {
                checks.append(.ok(id, "\(path): established" + (s.backup ? ", backup" : "")))
                continue
            }
            let cause = routing[s.localAddress]?.first { $0.status == .fail }
            checks.append(DiagnosisCheck(
                id: id, status: .fail, summary: "\(path): \(s.state.name) after \(waited) s",
                reason: cause.map { "\($0.reason ?? $0.summary) (\($0.id))" }
                    ?? "its join got no answer in time: a router or the peer drops it (a firewall, the peer's limits)",
                fix: cause?.fix))
        }
        let present = Set(probe.subflows.map(\.localAddress))
        for e in expected where probe.watchError == nil && !present.contains(e.address) && e.address != probe.local?.address
            && e.address.isIPv4 == peer.address.isIPv4 {
            let cause = routing[e.address]?.first { $0.status == .fail }
            checks.append(DiagnosisCheck(
                id: "peer.subflow.\(e.address)", status: cause == nil ? .warn : .fail,
                summary: "no subflow from \(e.address) within \(waited) s",
                reason: cause.map { "\($0.reason ?? $0.summary) (\($0.id)); a subflow whose SYN got no route is gone at once" }
                    ?? "the path manager did not open one (limits, the peer's limits, or the peer refused the join)",
                fix: cause?.fix))
        }
        if let error = probe.watchError {
            checks.append(DiagnosisCheck(id: "peer.watch", status: .warn, summary: "the connection's subflows could not be read",
                                         reason: "sock_diag refused: \(error.description)",
                                         fix: "modprobe mptcp_diag"))
        }
        if probe.closedByPeer {
            checks.append(DiagnosisCheck(id: "peer.closed", status: .warn, summary: "\(peer) closed the connection after \(waited) s",
                                         reason: "the subflows were watched for less than the timeout: point --peer at a server that holds connections open"))
        }
        return checks
    }

    static func connectReason(_ error: MPTCPError) -> String {
        switch error.errno {
        case ECONNREFUSED?: return "nothing listens on the peer's port (connection refused)"
        case ETIMEDOUT?: return "no answer in time: the peer is down, or a firewall drops the SYN"
        case ENOPROTOOPT?, EPROTONOSUPPORT?: return "this namespace makes no MPTCP socket (net.mptcp.enabled is 0?)"
        case ENETUNREACH?, EHOSTUNREACH?: return "no route to the peer"
        default: return error.description
        }
    }

    static func connectFix(_ error: MPTCPError, fix: FixCommands) -> String? {
        switch error.errno {
        case ENOPROTOOPT?, EPROTONOSUPPORT?: return fix.sysctl("net.mptcp.enabled", "1")
        default: return nil
        }
    }
}
