import Foundation
import MPTCPKit
import Testing

/// Path probes on the realistic lab (variant (b): a default route per uplink,
/// uplink 1's preferred), against the real kernel: echo and connect probes
/// bound to one uplink travel that uplink, whatever the main route says, are
/// answered through it, time out when its router drops them, report a
/// router's unreachable, and are not confused by other probers or `ping`.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class ProbeKernelTests {
    let lab: RealisticLab

    init() throws {
        lab = try RealisticLab(variant: .b)
    }

    deinit { lab.close() }

    var eth1: String { RealisticLab.interface(uplink: 1) }
    var eth2: String { RealisticLab.interface(uplink: 2) }

    /// An echo probe from the client's address on `uplink`.
    func echoProbe(uplink: Int, v6: Bool = false, identifier: UInt16 = 0x6d70) throws -> EchoProbeSocket {
        try EchoProbeSocket(source: try lab.clientAddress(uplink: uplink, v6: v6), interface: RealisticLab.interface(uplink: uplink),
                            identifier: identifier, namespace: lab.clientNamespace)
    }

    /// The answers a socket reads until `done` holds for them, or `seconds` passed.
    func answers(_ socket: EchoProbeSocket, seconds: Double = 15, until done: ([ProbeReply]) -> Bool) throws -> [ProbeReply] {
        var replies: [ProbeReply] = []
        let deadline = Date().addingTimeInterval(seconds)
        while !done(replies) && Date() < deadline {
            _ = try ProbeWait.ready([socket.fileDescriptor], timeoutMilliseconds: 100)
            replies += try socket.receive()
        }
        return replies
    }

    /// A connect probe's outcome once it has one, or nil after `seconds`.
    func outcome(_ probe: ConnectProbe, seconds: Double = 15) throws -> ConnectProbe.Outcome? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let outcome = probe.outcome() { return outcome }
            _ = try ProbeWait.ready([probe.fileDescriptor], timeoutMilliseconds: 100)
        }
        return probe.outcome()
    }

    /// Router `uplink` runs `verdict` (with a counter) on what its LAN side
    /// forwards or receives (`drop`, `reject with icmpx type host-unreachable`,
    /// or `accept` to count only). Gone with the router's namespace.
    func routerRule(uplink: Int, _ verdict: String) throws {
        try lab.exec(lab.router(uplink), ["nft", """
            add table inet probetest; \
            add chain inet probetest forward { type filter hook forward priority -10; }; \
            add rule inet probetest forward iifname "lan" counter \(verdict)
            """])
    }

    /// Packets router `uplink`'s rule counted.
    func routerCount(uplink: Int) throws -> Int {
        let rules = try lab.exec(lab.router(uplink), ["nft", "list", "chain", "inet", "probetest", "forward"]).stdout
        guard let range = rules.range(of: #"packets (\d+)"#, options: .regularExpression) else { return 0 }
        return Int(rules[range].split(separator: " ")[1]) ?? 0
    }

    @Test func anEchoProbeThroughItsInterfaceIsAnsweredByTheGatewayAndTheServerWithARoundTrip() throws {
        let probe = try echoProbe(uplink: 1)
        let gateway = try lab.gateway(uplink: 1), service = RealisticLab.service()
        try probe.send(to: gateway, sequence: 1)
        try probe.send(to: service, sequence: 2)
        let replies = try answers(probe) { $0.count >= 2 }
        #expect(Set(replies.map(\.sequence)) == [1, 2], "\(replies)")
        #expect(replies.allSatisfy { $0.kind == .echoReply })
        #expect(replies.first { $0.sequence == 1 }?.from == gateway)
        #expect(replies.first { $0.sequence == 2 }?.from == service)
        #expect(replies.allSatisfy { ($0.roundTrip ?? .zero) > .zero })
        probe.close()
        probe.close()
        #expect(probe.fileDescriptor == -1)
    }

    @Test func anEchoProbeTimesOutWhenItsRouterDropsEverythingWhileTheOtherUplinkAnswers() throws {
        try routerRule(uplink: 1, "drop")
        let blocked = try echoProbe(uplink: 1), control = try echoProbe(uplink: 2)
        let service = RealisticLab.service()
        for sequence in UInt16(1)...3 {
            try blocked.send(to: service, sequence: sequence)
            try control.send(to: service, sequence: sequence)
        }
        let answered = try answers(control) { $0.count >= 3 }
        #expect(answered.count == 3, "the control probes through uplink 2: \(answered)")
        // Nothing comes back through uplink 1 (a wait for an absence: generous, and after the control answered).
        let lost = try answers(blocked, seconds: 3) { _ in false }
        #expect(lost.isEmpty, "\(lost)")
        #expect(try routerCount(uplink: 1) >= 3, "the probes reached router 1 and were dropped there")
    }

    @Test func aProbeBoundToUplink2NeverLeavesByUplink1WhereTheMainDefaultRoutePoints() throws {
        // The main table prefers uplink 1 (metric 100); router 1 drops and counts all it forwards.
        let main = try lab.exec(lab.client, ["ip", "route", "get", "10.3.0.1"]).stdout
        #expect(main.contains("dev eth1"), "\(main)")
        try routerRule(uplink: 1, "drop")
        let probe = try echoProbe(uplink: 2)
        let connect = try ConnectProbe(source: try lab.clientAddress(uplink: 2), interface: eth2, target: RealisticLab.service(),
                                       port: 9, namespace: lab.clientNamespace)
        defer { connect.close() }
        for sequence in UInt16(1)...3 { try probe.send(to: RealisticLab.service(), sequence: sequence) }
        let replies = try answers(probe) { $0.count >= 3 }
        #expect(replies.count == 3 && replies.allSatisfy { $0.kind == .echoReply }, "\(replies)")
        #expect(try outcome(connect) == .answered, "port 9 is closed on the server: a RST through uplink 2")
        #expect(try routerCount(uplink: 1) == 0, "nothing of the probes went through router 1")
    }

    @Test func ICMPv6EchoProbesAreAnsweredIncludingByALinkLocalGateway() throws {
        let probe = try echoProbe(uplink: 1, v6: true)
        let gateway = try lab.gateway(uplink: 1, v6: true), service = RealisticLab.service(v6: true)
        #expect(gateway == IPAddress("fe80::1"))
        try probe.send(to: gateway, sequence: 10)
        try probe.send(to: service, sequence: 11)
        let replies = try answers(probe) { $0.count >= 2 }
        #expect(Set(replies.map(\.sequence)) == [10, 11], "\(replies)")
        #expect(replies.first { $0.sequence == 10 }?.from == gateway)
        #expect(replies.first { $0.sequence == 11 }?.from == service)
        #expect(replies.allSatisfy { $0.kind == .echoReply })
        let other = try echoProbe(uplink: 2, v6: true)
        try other.send(to: service, sequence: 1)
        #expect(try answers(other) { !$0.isEmpty }.first?.from == service)
    }

    @Test func aRoutersUnreachableIsReportedFromTheRouterForTheProbeItQuotes() throws {
        try routerRule(uplink: 1, "reject with icmpx type host-unreachable")
        let gateway = try lab.gateway(uplink: 1), service = RealisticLab.service()
        let probe = try echoProbe(uplink: 1)
        try probe.send(to: service, sequence: 77)
        let replies = try answers(probe) { !$0.isEmpty }
        #expect(replies == [ProbeReply(from: gateway, sequence: 77, kind: .unreachable(code: 1), roundTrip: replies.first?.roundTrip)])
        let connect = try ConnectProbe(source: try lab.clientAddress(uplink: 1), interface: eth1, target: service, port: 9,
                                       namespace: lab.clientNamespace)
        guard case .failed(let error)? = try outcome(connect) else {
            Issue.record("a connect through a rejecting router should fail, got \(String(describing: connect.outcome()))")
            return
        }
        #expect(error.isNetworkUnreachable, "\(error)")
    }

    @Test func aProbeWhoseHopLimitRunsOutAtTheRouterIsReportedAsTimeExceededFromIt() throws {
        // Router 1 sets what arrives from the LAN to TTL / hop limit 1: forwarding it expires there.
        try lab.exec(lab.router(1), ["nft", """
            add table inet probettl; \
            add chain inet probettl pre { type filter hook prerouting priority -300; }; \
            add rule inet probettl pre iifname "lan" ip daddr 10.3.0.1 ip ttl set 1; \
            add rule inet probettl pre iifname "lan" ip6 daddr fd03::1 ip6 hoplimit set 1
            """])
        let probe = try echoProbe(uplink: 1), gateway = try lab.gateway(uplink: 1)
        try probe.send(to: RealisticLab.service(), sequence: 5)
        let replies = try answers(probe) { !$0.isEmpty }
        #expect(replies.map(\.kind) == [.timeExceeded] && replies.first?.from == gateway, "\(replies)")
        let v6 = try echoProbe(uplink: 1, v6: true)
        try v6.send(to: RealisticLab.service(v6: true), sequence: 6)
        let v6Replies = try answers(v6) { !$0.isEmpty }
        #expect(v6Replies.map(\.kind) == [.timeExceeded] && v6Replies.first?.sequence == 6, "\(v6Replies)")
    }

    @Test func concurrentPingAndAnotherProberWithTheSameSequencesDoNotConfuseAProbe() throws {
        let service = RealisticLab.service(), gateway = try lab.gateway(uplink: 1)
        // ping numbers its requests 1, 2, ... too, on the same interface and address.
        let ping = Process()
        _ = ping.prepare("/usr/sbin/ip", ["netns", "exec", lab.client, "ping", "-n", "-q", "-c", "30", "-i", "0.05", "-I", eth1,
                                          service.description])
        try ping.run()
        defer { if ping.isRunning { ping.terminate() }; ping.waitUntilExit() }
        let probe = try echoProbe(uplink: 1, identifier: 0x1111), rival = try echoProbe(uplink: 1, identifier: 0x2222)
        var replies: [ProbeReply] = [], rivalReplies: [ProbeReply] = []
        for sequence in UInt16(1)...10 {
            try probe.send(to: service, sequence: sequence)
            try rival.send(to: gateway, sequence: sequence)
            replies += try answers(probe) { $0.contains { $0.sequence == sequence } }
            rivalReplies += try rival.receive()
        }
        rivalReplies += try answers(rival) { _ in rivalReplies.count >= 10 }
        #expect(replies.map(\.sequence) == Array(1...10), "each probe answered exactly once: \(replies)")
        #expect(replies.allSatisfy { $0.from == service && $0.kind == .echoReply })
        #expect(rivalReplies.count == 10 && rivalReplies.allSatisfy { $0.from == gateway }, "\(rivalReplies)")
        ping.waitUntilExit()
        #expect(ping.terminationStatus == 0, "ping got its own replies too")
    }

    @Test func aConnectProbeIsAnsweredByAListeningPortAndByAClosedOneAndPendsBehindADropRule() throws {
        let sink = try lab.sink(port: 7801)
        defer { sink.stop() }
        let source = try lab.clientAddress(uplink: 1), service = RealisticLab.service()
        let listening = try ConnectProbe(source: source, interface: eth1, target: service, port: 7801, namespace: lab.clientNamespace)
        #expect(try outcome(listening) == .answered)
        listening.close()
        let closed = try ConnectProbe(source: source, interface: eth1, target: service, port: 7802, namespace: lab.clientNamespace)
        #expect(try outcome(closed) == .answered, "a RST is an answer")
        let v6 = try ConnectProbe(source: try lab.clientAddress(uplink: 1, v6: true), interface: eth1, target: RealisticLab.service(v6: true),
                                  port: 7801, namespace: lab.clientNamespace)
        #expect(try outcome(v6) == .answered)
        try routerRule(uplink: 1, "drop")
        let dropped = try ConnectProbe(source: source, interface: eth1, target: service, port: 7801, namespace: lab.clientNamespace)
        let control = try ConnectProbe(source: try lab.clientAddress(uplink: 2), interface: eth2, target: service, port: 7801,
                                       namespace: lab.clientNamespace)
        #expect(try outcome(control) == .answered)
        // Still pending after a generous wait: the caller's timeout decides.
        #expect(try outcome(dropped, seconds: 3) == nil)
        #expect(try routerCount(uplink: 1) >= 1)
        dropped.close()
        #expect(dropped.outcome() == nil)
    }

    @Test func badInputIsAClearErrorAndNoTrap() throws {
        let ns = try lab.clientNamespace
        let v4 = try lab.clientAddress(uplink: 1), v6 = try lab.clientAddress(uplink: 1, v6: true)
        #expect { try EchoProbeSocket(source: v4, interface: "nosuch0", identifier: 1, namespace: ns) } throws: {
            ($0 as? MPTCPError)?.isNotFound == true
        }
        #expect { try EchoProbeSocket(source: v4, interface: String(repeating: "x", count: 40), identifier: 1, namespace: ns) } throws: {
            ($0 as? MPTCPError)?.code == .invalidArgument
        }
        #expect { try EchoProbeSocket(source: IPAddress("0.0.0.0")!, interface: eth1, identifier: 1, namespace: ns) } throws: {
            ($0 as? MPTCPError)?.code == .invalidArgument
        }
        #expect { try EchoProbeSocket(source: IPAddress("192.0.2.9")!, interface: eth1, identifier: 1, namespace: ns) } throws: {
            ($0 as? MPTCPError)?.isAddressNotAvailable == true
        }
        let probe = try EchoProbeSocket(source: v4, interface: eth1, identifier: 1, namespace: ns)
        #expect { try probe.send(to: RealisticLab.service(v6: true), sequence: 1) } throws: {
            ($0 as? MPTCPError)?.code == .invalidArgument
        }
        probe.close()
        #expect { try probe.send(to: RealisticLab.service(), sequence: 1) } throws: { ($0 as? MPTCPError)?.code == .invalidArgument }
        #expect { try probe.receive() } throws: { ($0 as? MPTCPError)?.code == .invalidArgument }
        #expect { try ConnectProbe(source: v6, interface: eth1, target: RealisticLab.service(), port: 80, namespace: ns) } throws: {
            ($0 as? MPTCPError)?.code == .invalidArgument
        }
        #expect { try ConnectProbe(source: v4, interface: eth1, target: RealisticLab.service(), port: 0, namespace: ns) } throws: {
            ($0 as? MPTCPError)?.code == .invalidArgument
        }
        #expect { try ConnectProbe(source: v4, interface: "nosuch0", target: RealisticLab.service(), port: 80, namespace: ns) } throws: {
            ($0 as? MPTCPError)?.isNotFound == true
        }
        #expect { try ProbeWait.ready([probe.fileDescriptor == -1 ? 9999 : probe.fileDescriptor], timeoutMilliseconds: 0) } throws: {
            ($0 as? MPTCPError)?.errno == EBADF
        }
    }
}
