/// IPv4's reverse-path filter against the routes: in strict mode (1) the kernel
/// drops an arriving packet unless the route back to its source leaves by the
/// interface it came in on. The route back from ADDR to the peer is an unbound
/// lookup from ADDR: without source routing it follows the main table's
/// default, so the replies to subflows from a second uplink are dropped.
/// The effective value is max(conf.all, conf.IF).
public enum ReversePathVerdict {
    /// nil for IPv6 (no reverse-path filter sysctl) and addresses on no interface.
    public static func check(_ used: UsedAddress, probes: [RouteProbe], destinations: DiagnosisDestinations,
                             all: Int?, perInterface: [String: Int], network: NetworkSnapshot,
                             plane: ControlPlaneFacts, fix: FixCommands) -> DiagnosisCheck? {
        guard used.address.isIPv4, let holder = used.interfaceIndex, let name = network.link(holder)?.name else { return nil }
        let id = "rp_filter.\(used.address)"
        guard let all, let own = perInterface[name] else {
            return DiagnosisCheck(id: id, status: .info, summary: "rp_filter of \(name) cannot be read")
        }
        let effective = max(all, own)
        let summary = "\(name): rp_filter \(effective) (max of all \(all), \(name) \(own))"
        guard effective == 1 else {
            return .ok(id, summary + (effective == 0 ? ", off" : ", loose"))
        }
        guard let destination = destinations.destination(from: used.address),
              let probe = probes.probe(from: used.address, to: destination, boundTo: nil) else {
            return .ok(id, summary + ", strict")
        }
        if let route = probe.route, route.outputInterface == holder {
            return .ok(id, summary + ", strict; the route back to \(destination) from \(used.address) leaves by \(name)")
        }
        let back = probe.route.map { network.link($0.outputInterface)?.name ?? "if\($0.outputInterface)" }
        let routing = SourceRoutingFix.text(address: used.address, interface: holder, network: network, plane: plane, fix: fix)
        return DiagnosisCheck(
            id: id, status: .fail, summary: summary + ", strict",
            reason: "the route back to \(destination) from \(used.address) leaves by \(back ?? "no interface"), not \(name): "
                + "the kernel drops the replies to subflows from \(used.address)",
            // sysctl(8) reads dots as separators: a VLAN's name (eth0.100) needs the path form.
            fix: fix.sysctl(name.contains(".") ? "net/ipv4/conf/\(name)/rp_filter" : "net.ipv4.conf.\(name).rp_filter", "2") + " (loose); or source routing: " + routing)
    }
}
