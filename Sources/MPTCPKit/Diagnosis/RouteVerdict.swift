/// Whether subflows from an address leave through that address's own interface,
/// with a router to forward them: the kernel's route lookup for the source, the
/// endpoint's binding and the destination. A packet from ADDR2 sent out of IF1
/// reaches IF1's router, which drops it when it filters sources (anti-spoofing,
/// as ISPs and strict reverse-path filters do): the subflow stays in syn-sent.
public enum RouteVerdict {
    private static let typeNames: [UInt8: String] = [2: "local", 6: "blackhole", 7: "unreachable", 8: "prohibit", 9: "throw"]

    /// nil when the address is on no interface (the address check says so).
    public static func check(_ used: UsedAddress, probes: [RouteProbe], destinations: DiagnosisDestinations,
                             network: NetworkSnapshot, plane: ControlPlaneFacts, fix: FixCommands) -> DiagnosisCheck? {
        guard let own = used.ownInterface else { return nil }
        let id = "route.\(used.address)"
        let address = used.address
        let ownName = network.link(own)?.name ?? "if\(own)"
        // No subflow goes from it to a peer of the other family (the endpoint check says so).
        guard let destination = destinations.destination(from: address) else { return nil }
        guard let probe = probes.probe(from: address, to: destination, boundTo: used.boundInterface) else { return nil }
        let remedy = SourceRoutingFix.text(address: address, interface: own, network: network, plane: plane, fix: fix)
        let route: Route
        switch probe.outcome {
        case .failure(let error):
            if destinations.areStandIns {
                return DiagnosisCheck(id: id, status: .warn, summary: "no route from \(address) beyond the links of \(ownName)",
                                      reason: "subflows from \(address) reach only peers on \(ownName)'s link (\(error.description))",
                                      fix: remedy)
            }
            return DiagnosisCheck(id: id, status: .fail, summary: "no route from \(address) to \(destination)",
                                  reason: "subflows from \(address) cannot leave (\(error.description))", fix: remedy)
        case .success(let found): route = found
        }
        if route.type != Route.typeUnicast {
            return DiagnosisCheck(id: id, status: .fail,
                                  summary: "the route from \(address) to \(destination) is \(typeNames[route.type] ?? "type \(route.type)")",
                                  reason: "subflows from \(address) are refused before they leave", fix: remedy)
        }
        let outName = network.link(route.outputInterface)?.name ?? "if\(route.outputInterface)"
        if route.outputInterface != own {
            return DiagnosisCheck(id: id, status: .fail, summary: "\(address) -> \(destination) leaves by \(outName)",
                                  reason: "subflows from \(address) leave by \(outName), not \(ownName): strict routers drop them",
                                  fix: remedy)
        }
        // A point-to-point or NOARP link (PPPoE, WireGuard, LTE: `default dev ppp0`)
        // has no router to name: everything sent into it reaches the other end.
        let pointToPoint = network.link(own).map { $0.flags & (0x10 | 0x80) != 0 } ?? false  // IFF_POINTOPOINT, IFF_NOARP
        if route.gateway == nil && !pointToPoint && !onLink(destination, interface: own, network) {
            return DiagnosisCheck(id: id, status: .fail, summary: "\(address) -> \(destination) leaves by \(ownName) with no router",
                                  reason: "no route through \(ownName) leads to \(destination): the kernel takes it for a neighbour on "
                                      + "\(ownName)'s link, and nobody there answers for it",
                                  fix: remedy)
        }
        let via = route.gateway.map { "via \($0) " } ?? ""
        let standIn = destinations.areStandIns ? " (stand-in destination)" : ""
        return .ok(id, "\(address) -> \(destination)\(standIn) \(via)dev \(ownName), table \(route.table)")
    }

    /// Whether `destination` lies in a prefix of an address of interface `index`.
    static func onLink(_ destination: IPAddress, interface index: Int32, _ network: NetworkSnapshot) -> Bool {
        network.addresses.contains { a in
            a.interfaceIndex == index && a.address.isIPv4 == destination.isIPv4
                && sharePrefix(a.address.bytes, destination.bytes, Int(a.prefixLength))
        }
    }

    static func sharePrefix(_ a: [UInt8], _ b: [UInt8], _ bits: Int) -> Bool {
        guard a.count == b.count, bits <= a.count * 8 else { return false }
        for i in 0..<(bits / 8) where a[i] != b[i] { return false }
        let rest = bits % 8
        guard rest > 0 else { return true }
        let mask = UInt8(0xff) << (8 - rest)
        return a[bits / 8] & mask == b[bits / 8] & mask
    }
}
