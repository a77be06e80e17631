import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// Which MPTCP listeners the daemon holds for its own announcements, and the
/// `announce_port` key that moves them to a port of their own.
@Suite struct AnnouncementListenersTests {
    typealias Lab = ConnectionEngineTests.Lab

    func policy(announcePort: UInt16? = nil) -> Policy {
        var eth = rule(["eth*"], .active, position: 1, announce: true)
        eth.announcePort = announcePort
        let rules = [eth, rule(["wwan*"], .backup, position: 2, announce: true), rule(["lte*"], .handover, position: 3),
                     rule(["docker*"], .off, position: 4, announce: true)]
        var c = ConnectionPolicy(name: "srv")
        c.position = 1
        return Policy(interfaces: rules, connections: [c])
    }

    func server(_ lab: Lab, port: UInt16 = 443, token: UInt32 = 7) -> ConnectionView {
        var c = ConnectionView(token: token, side: .server, local: AddressAndPort(address: IPAddress("10.0.0.1")!, port: port),
                               remote: AddressAndPort(address: IPAddress("10.9.0.2")!, port: 40000), initialInterface: lab.eth0)
        c.subflows = [SubflowView(local: c.local, remote: c.remote, localID: 0, backup: false, interfaceIndex: lab.eth0)]
        return c
    }

    func wanted(_ policy: Policy, _ lab: Lab, _ connections: [ConnectionView], others: [Listener] = []) -> [String] {
        AnnouncementListeners.wanted(ConnectionEngine.Context(policy: policy, network: lab.world.snapshot),
                                     connections: connections, others: others).sorted().map(\.description)
    }

    @Test func aListenerIsWantedOnEachAnnouncedAddressAndTheConnectionsPort() {
        let lab = Lab()
        #expect(wanted(policy(), lab, [server(lab)]) == ["10.0.1.1:443", "10.0.2.1:443"],
                "eth1 and wwan0 (announce = true); not the initial address, lte0 (not announced) or docker0 (off)")
        #expect(wanted(policy(), lab, [server(lab, port: 443), server(lab, port: 8443, token: 8)])
                == ["10.0.1.1:443", "10.0.1.1:8443", "10.0.2.1:443", "10.0.2.1:8443"], "one per port in use")
    }

    @Test func noListenerIsWantedWhereAnotherOneTakesTheJoin() {
        let lab = Lab()
        let wildcard = [Listener(address: IPAddress("0.0.0.0")!, port: 443, family: .ipv4)]
        #expect(wanted(policy(), lab, [server(lab)], others: wildcard).isEmpty)
        let dualStack = [Listener(address: IPAddress("::")!, port: 443, family: .ipv6, v6only: false)]
        #expect(wanted(policy(), lab, [server(lab)], others: dualStack).isEmpty, "an IPv6 wildcard without V6ONLY takes IPv4 joins")
        let one = [Listener(address: IPAddress("10.0.1.1")!, port: 443, family: .ipv4)]
        #expect(wanted(policy(), lab, [server(lab)], others: one) == ["10.0.2.1:443"])
        let otherPort = [Listener(address: IPAddress("0.0.0.0")!, port: 80, family: .ipv4)]
        #expect(wanted(policy(), lab, [server(lab)], others: otherPort).count == 2)
    }

    @Test func clientConnectionsAndPoliciesWithoutAnnouncementsWantNoListener() {
        let lab = Lab()
        var client = server(lab)
        client.side = .client
        #expect(wanted(policy(), lab, [client]).isEmpty)
        #expect(wanted(policy(), lab, []).isEmpty, "no connection, no listener: each is closed with the last connection it served")
        let quiet = Policy(interfaces: ConnectionEngineTests.rules, connections: [])
        #expect(wanted(quiet, lab, [server(lab)]).isEmpty)
    }

    @Test func announcePortMovesTheListenerAndTheAnnouncementToThatPort() {
        let lab = Lab()
        let p = policy(announcePort: 7000)
        #expect(wanted(p, lab, [server(lab)]) == ["10.0.1.1:7000", "10.0.2.1:443"], "eth's block has announce_port; wwan's has not")
        // The engine announces on that port only once a listener takes joins there.
        let held = [Listener(address: IPAddress("10.0.1.1")!, port: 7000, family: .ipv4, v6only: true),
                    Listener(address: IPAddress("10.0.2.1")!, port: 443, family: .ipv4, v6only: true)]
        let d = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: server(lab), memory: .init(), now: 0,
                                        listeners: held)
        let announced = d.actions.compactMap { a -> String? in
            if case .announce(_, let address, let port, _, _) = a { return "\(address) port \(port)" } else { return nil }
        }
        #expect(announced == ["10.0.1.1 port 7000", "10.0.2.1 port 0"], "port 0: the connection's own, no port in ADD_ADDR")
        let without = ConnectionEngine.decide(policy: p, network: lab.world.snapshot, connection: server(lab), memory: .init(), now: 0,
                                              listeners: [Listener(address: IPAddress("0.0.0.0")!, port: 443, family: .ipv4)])
        #expect(without.refusedAnnouncements.map(\.reason) == ["no MPTCP listener accepts joins to 10.0.1.1:7000"])
    }

    @Test func announcePortIsReadAndChecked() throws {
        let ok = try PolicyLoader.load("""
            [[interface]]
            name = "eth*"
            role = "active"
            announce = true
            announce_port = 7000
            """, file: "p.toml")
        #expect(ok.interfaces.first?.announcePort == 7000)
        let cases: [(String, String)] = [
            ("announce = true\nannounce_port = 0", "0 is not a port (1-65535)"),
            ("announce = true\nannounce_port = 65536", "65536 is not a port (1-65535)"),
            ("announce = true\nannounce_port = \"7000\"", "expected an integer"),
            ("announce_port = 7000", "needs announce = true"),
        ]
        for (keys, message) in cases {
            let text = "[[interface]]\nname = \"eth*\"\nrole = \"active\"\n" + keys + "\n"
            do {
                _ = try PolicyLoader.load(text, file: "p.toml")
                Issue.record("accepted: \(keys)")
            } catch {
                #expect(error.diagnostics.count == 1, "\(error.diagnostics)")
                #expect(error.diagnostics.first?.key == "interface[1].announce_port", "\(error.diagnostics)")
                #expect(error.diagnostics.first?.message.contains(message) == true, "\(error.diagnostics)")
            }
        }
    }
}
