/// doctor's view of path health, from what mptcpctld judges (`paths`): one
/// check per path (`path.IF.FAMILY`), and per family (`initial-path.FAMILY`)
/// whether new connections still start on a working path while the path that
/// holds main's default route is down. A connection's first SYN has no source
/// yet and leaves by that route; with `[routing] mode = "on"` the daemon adds a
/// rule of its own sending them to a healthy uplink until the path heals, with
/// `"off"` it only says (in its log and `status`) what it would have done.
public enum PathHealthVerdict {
    public static func checks(plane: ControlPlaneFacts, network: NetworkSnapshot, fix: FixCommands) -> [DiagnosisCheck] {
        guard plane.answers else { return [] }
        guard let paths = plane.paths else {
            return [DiagnosisCheck(id: "paths", status: .info,
                                   summary: "mptcpctld reports no path health" + (plane.pathHealthUnavailable.map { ": \($0)" } ?? ""))]
        }
        var checks = paths.sorted { ($0.interface, $0.family) < ($1.interface, $1.family) }.map { check($0, among: paths, fix: fix) }
        for family in ["ipv4", "ipv6"] {
            if let initial = initialPath(family, paths: paths, plane: plane, network: network, fix: fix) { checks.append(initial) }
        }
        return checks
    }

    /// One path: `up` is ok, not judged yet is info; `degraded` warns; `down`
    /// warns while another path of its family carries the connections, and
    /// fails when none does.
    static func check(_ p: PathHealthFact, among paths: [PathHealthFact], fix: FixCommands) -> DiagnosisCheck {
        let id = "path.\(p.interface).\(p.family)"
        let probes = fix.mptcpctl("paths") + " shows its probes and their targets"
        let others = paths.filter { $0.family == p.family && $0.interface != p.interface }
        switch p.state {
        case "up":
            return .ok(id, "\(p.name) up\(figures(p))")
        case "degraded":
            let other = others.first { $0.state == "up" || $0.state == "unknown" }
            let steering = other.map { "; mptcpctld makes it backup while \($0.name) is up" }
                ?? "; no other \(p.family) path is up, so mptcpctld keeps using it as before"
            return DiagnosisCheck(id: id, status: .warn, summary: "\(p.name) degraded\(figures(p))",
                                  reason: (p.evidence ?? "its RTT or loss is over the policy's max_rtt or max_loss") + steering,
                                  fix: "the link behind \(p.interface) is slow or lossy: check its router and provider; \(probes)")
        case "down":
            let other = others.first(where: \.isUsable)
            let steering = other.map { "; mptcpctld steers away from it (on_path_down = \"\(p.onPathDown)\") while \($0.name) carries the connections" }
                ?? "; no other \(p.family) path is usable: connections of this family have no working path"
            return DiagnosisCheck(id: id, status: other == nil ? .fail : .warn, summary: "\(p.name) down\(figures(p))",
                                  reason: (p.evidence ?? "its probes are lost") + steering,
                                  fix: "\(p.interface)'s link is up but nothing gets through beyond it: check its router and provider; \(probes)")
        default:
            return DiagnosisCheck(id: id, status: .info, summary: "\(p.name) not judged yet (no probe answered, no traffic seen)")
        }
    }

    /// While the path holding main's default route of `family` is down: what
    /// happens to new connections (nil while it is not down).
    static func initialPath(_ family: String, paths: [PathHealthFact], plane: ControlPlaneFacts, network: NetworkSnapshot,
                            fix: FixCommands) -> DiagnosisCheck? {
        let kernelFamily: UInt16 = family == "ipv4" ? 2 : 10
        let route = network.routes.filter {
            $0.family == kernelFamily && $0.table == Route.tableMain && $0.isDefault && $0.routingProtocol != RoutingProtocol.mptcpctl
        }.min { ($0.metric ?? 0, $0.outputInterface) < ($1.metric ?? 0, $1.outputInterface) }
        guard let route, let name = network.link(route.outputInterface)?.name,
              let holder = paths.first(where: { $0.interface == name && $0.family == family }), holder.state == "down" else { return nil }
        let id = "initial-path.\(family)"
        let lead = "\(holder.name) holds main's default route and is down"
        let lost = "a new connection's first SYN has no source yet: it leaves by main's default route, into the outage"
        let said = plane.routingNotes.filter { $0.contains(holder.name) }
        let says = said.isEmpty ? "" : "; mptcpctld says: " + said.joined(separator: "; ")
        if plane.routesSources {
            if let rule = network.rules.first(where: {
                $0.family == kernelFamily && $0.source == nil && $0.table != RoutingRule.mainTable && $0.suppressPrefixLength == nil
                    && $0.routingProtocol == RoutingProtocol.mptcpctl
            }) {
                return DiagnosisCheck(id: id, status: .info, summary: "\(lead): mptcpctld sends new connections to table "
                                          + "\(rule.table) (its rule from all, priority \(rule.priority)) until it heals")
            }
            return DiagnosisCheck(id: id, status: .warn, summary: "\(lead): new connections still start on it",
                                  reason: lost + says, fix: "see " + fix.mptcpctl("plan"))
        }
        let off = plane.routingMode == "off" ? "; [routing] mode = \"off\": mptcpctld changes no routing" : ""
        return DiagnosisCheck(id: id, status: .warn, summary: "\(lead): new connections start on it",
                              reason: lost + off + says,
                              fix: "set [routing] mode = \"on\" in mptcpctld's policy and run " + fix.mptcpctl("reload")
                                  + " (it then sends new connections to a healthy path while this one is down)")
    }

    /// ` (RTT 1.2 ms, 0 % lost)`, of what is known.
    static func figures(_ p: PathHealthFact) -> String {
        var parts: [String] = []
        if let rtt = p.rttMilliseconds { parts.append("RTT \((rtt * 10).rounded() / 10) ms") }
        if let loss = p.lossPercent { parts.append("\(loss) % lost") }
        return parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")"
    }
}
