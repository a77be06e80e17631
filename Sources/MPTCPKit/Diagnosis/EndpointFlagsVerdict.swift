/// Endpoint flag combinations that cannot do what they say on this side:
/// `signal` on a host that accepts no MPTCP connection, `fullmesh` with `signal`,
/// an endpoint that neither announces nor opens subflows, and a subflow endpoint
/// of a family the peer does not have.
public enum EndpointFlagsVerdict {
    /// `isServer`: this namespace has an MPTCP listener (some peer may join it).
    public static func check(_ endpoint: Endpoint, isServer: Bool, destinations: DiagnosisDestinations,
                             interfaceName: String?, fix: FixCommands) -> DiagnosisCheck {
        let id = "endpoint.\(endpoint.id)"
        let flags = endpoint.flags
        let dev = interfaceName.map { " dev \($0)" } ?? ""
        let summary = "\(endpoint.address)\(dev): \(flags.names.isEmpty ? "no flags" : flags.names.joined(separator: " "))"
        if flags.contains(.signal) && flags.contains(.fullmesh) {
            return DiagnosisCheck(id: id, status: .fail, summary: summary,
                                  reason: "fullmesh opens subflows from this host; with signal the endpoint only announces, so it never does",
                                  fix: fix.mptcpctl("endpoint set \(endpoint.id) --no-fullmesh"))
        }
        if flags.contains(.signal) && !flags.contains(.subflow) && !isServer {
            return DiagnosisCheck(id: id, status: .warn, summary: summary,
                                  reason: "signal announces \(endpoint.address) to this host's peers, and this host accepts no MPTCP "
                                      + "connection (no MPTCP listener): the servers it connects to do not open subflows towards a client",
                                  fix: fix.mptcpctl("endpoint delete \(endpoint.id)") + " && "
                                      + fix.mptcpctl("endpoint add \(endpoint.address)\(dev) --subflow"))
        }
        if !flags.contains(.signal) && !flags.contains(.subflow) && !flags.contains(.implicit) {
            return DiagnosisCheck(id: id, status: .info, summary: summary,
                                  reason: "neither signal nor subflow: the endpoint only gives \(endpoint.address) an id")
        }
        if flags.contains(.subflow), let peer = destinations.peer, peer.address.isIPv4 != endpoint.address.isIPv4 {
            let family = endpoint.address.isIPv4 ? "IPv4" : "IPv6"
            return DiagnosisCheck(id: id, status: .info, summary: summary,
                                  reason: "no subflow goes from this \(family) address to \(peer.address): only to \(family) addresses the peer announces")
        }
        return .ok(id, summary)
    }
}
