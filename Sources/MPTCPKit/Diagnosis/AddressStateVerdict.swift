/// Whether a used address can be a subflow's source now: not link-local (unless
/// the peer is on the link too), on an interface that is up, not tentative
/// (duplicate address detection unfinished), not found a duplicate, not deprecated.
public enum AddressStateVerdict {
    /// `peer`: `--peer`'s address, when given (a link-local peer is reached from a link-local address).
    public static func check(_ used: UsedAddress, network: NetworkSnapshot, peer: IPAddress? = nil,
                             fix: FixCommands) -> DiagnosisCheck {
        let id = "address.\(used.address)"
        let ipv6 = !used.address.isIPv4
        guard let index = used.interfaceIndex,
              let held = network.addresses.first(where: { $0.address == used.address && $0.interfaceIndex == index }) else {
            return DiagnosisCheck(id: id, status: used.endpoint == nil ? .warn : .fail,
                                  summary: "\(used.address) is on no interface of this namespace",
                                  reason: "no subflow can come from an address the host does not have",
                                  fix: used.endpoint.map { fix.mptcpctl("endpoint delete \($0.id)") })
        }
        let name = network.link(index)?.name ?? "if\(index)"
        let spelled = "\(used.address)/\(held.prefixLength) dev \(name)"
        if used.address.isIPv6LinkLocal && !(peer?.isIPv6LinkLocal ?? false) {
            return linkLocal(used, interface: index, name: name, network: network, fix: fix)
        }
        if let link = network.link(index), !link.isUsable {
            return DiagnosisCheck(id: id, status: .fail, summary: "\(used.address) on \(name), which is \(link.isAdministrativelyUp ? link.operState.description : "down")",
                                  reason: "nothing leaves by an interface that is not up", fix: fix.ip("link set \(name) up"))
        }
        if held.hasFailedDAD {
            return DiagnosisCheck(id: id, status: .fail, summary: "\(used.address) on \(name) failed duplicate address detection",
                                  reason: "another host on the link uses it: the kernel will not send from it",
                                  fix: fix.ip("addr del \(spelled)", ipv6: ipv6) + ", and give \(name) another address")
        }
        if held.isTentative {
            return DiagnosisCheck(id: id, status: .warn, summary: "\(used.address) on \(name) is tentative",
                                  reason: "duplicate address detection has not finished: no subflow can come from it until it does",
                                  fix: "wait a few seconds (or add it with nodad: " + fix.ip("addr replace \(spelled) nodad", ipv6: ipv6) + ")")
        }
        if held.isDeprecated {
            return DiagnosisCheck(id: id, status: .warn, summary: "\(used.address) on \(name) is deprecated",
                                  reason: "its preferred lifetime is over: new connections should not use it, and it goes when its valid lifetime ends",
                                  fix: "renew it (DHCP, router advertisements) or use another address of \(name)")
        }
        return .ok(id, "\(used.address) on \(name), usable")
    }

    /// A link-local source (fe80::/10) reaches only its own link: no router forwards
    /// a packet from it, so a subflow from it to a peer beyond the link never
    /// answers. An endpoint that opens subflows from it fails; otherwise a warning.
    private static func linkLocal(_ used: UsedAddress, interface index: Int32, name: String, network: NetworkSnapshot,
                                  fix: FixCommands) -> DiagnosisCheck {
        let global = network.addresses.first {
            $0.interfaceIndex == index && !$0.address.isIPv4 && !$0.isLinkLocal && !$0.address.isLoopback
        }?.address
        let replacement = global.map { "\($0)" } ?? "GLOBAL (a global IPv6 address of \(name); it has none now)"
        var remedy = "use a global address of \(name)"
        if let e = used.endpoint {
            let flags = e.flags.intersection([.signal, .subflow, .backup, .fullmesh]).names.map { " --\($0)" }.joined()
            remedy = fix.mptcpctl("endpoint delete \(e.id)") + " && " + fix.mptcpctl("endpoint add \(replacement) dev \(name)\(flags)")
        }
        let opensSubflows = used.endpoint?.flags.contains(.subflow) ?? false
        return DiagnosisCheck(id: "address.\(used.address)", status: opensSubflows ? .fail : .warn,
                              summary: "\(used.address) on \(name) is link-local (fe80::/10)",
                              reason: "a link-local address reaches only its own link: no router forwards a subflow from it "
                                  + "to a peer beyond \(name)" + (opensSubflows ? ", so every subflow from this endpoint fails" : ""),
                              fix: remedy)
    }
}
