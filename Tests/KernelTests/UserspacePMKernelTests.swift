import Foundation
import MPTCPKit
import Testing

/// The userspace path manager driven through MPTCPKit and the CLI on a live connection.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class UserspacePMKernelTests {
    let lab: Lab

    init() throws {
        lab = try Lab(paths: 2)
        try MPTCPSysctl(namespace: lab.clientNamespace).setPathManager("userspace")
        try MPTCPSysctl(namespace: lab.serverNamespace).setPathManager("userspace")
    }

    deinit { lab.close() }

    /// Starts a server and a holding client; returns them with the client's token.
    func connect(port: Int, clientEvents: EventLog) throws -> (Peer, Peer, UInt32) {
        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", String(port)])
        _ = try server.wait(for: "listening")
        let client = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", String(port)])
        _ = try client.wait(for: "connected")
        // A client is fully established (the ESTABLISHED event) once data has been acknowledged.
        client.send("send 1000")
        let established = try clientEvents.wait("established") { $0.type == .established }
        return (server, client, try #require(established.token))
    }

    func extraSubflows(_ client: Peer) throws -> Int {
        client.send("info")
        return try #require(try client.wait(for: "info")["subflows"] as? Int)
    }

    @Test func createFlipDestroyAnnounceRemove() throws {
        let clientEvents = try EventLog(lab.clientNamespace)
        let serverEvents = try EventLog(lab.serverNamespace)
        let (server, client, token) = try connect(port: 6001, clientEvents: clientEvents)
        defer { client.stop(); server.stop() }
        let pm = try PathManager(namespace: lab.clientNamespace)
        let a2 = lab.address("a", path: 2), b1 = lab.address("b", path: 1)
        let remote = AddressAndPort(address: b1, port: 6001)

        // Create: the id comes from the per-connection list (empty: the lowest free, 1).
        let id = try pm.localID(token: token, for: a2)
        #expect(id == 1)
        try pm.createSubflow(token: token, local: Endpoint(id: id, address: a2), remote: remote)
        let up = try clientEvents.wait("sf_established") { $0.type == .subflowEstablished && $0.token == token }
        #expect(up.localAddress == a2 && up.remoteAddress == b1 && up.localID == id && up.backup == false)
        let sport = try #require(up.localPort)
        #expect(try extraSubflows(client) == 1, "MPTCP_INFO counts the new subflow")
        #expect(try pm.addresses(token: token).contains { $0.address == a2 && $0.id == id })
        #expect(try pm.localID(token: token, for: a2) == id, "the id bound to the address is reused")

        // Flip backup: MP_PRIO reaches the peer.
        let local = AddressAndPort(address: a2, port: sport)
        try pm.setSubflowBackup(token: token, local: local, remote: remote, backup: true)
        let prio = try serverEvents.wait("sf_priority") { $0.type == .subflowPriority && $0.backup == true }
        #expect(prio.remoteAddress == a2 && prio.remotePort == sport)
        let view = try #require(try ConnectionTable.read(namespace: lab.clientNamespace).first { $0.token == token })
        #expect(view.subflows.first { $0.localPort == sport }?.backupLocal == true)
        try pm.setSubflowBackup(token: token, local: local, remote: remote, backup: false)
        _ = try serverEvents.wait("sf_priority off") { $0.type == .subflowPriority && $0.backup == false }

        // Destroy.
        try pm.destroySubflow(token: token, local: local, remote: remote)
        let down = try clientEvents.wait("sf_closed") { $0.type == .subflowClosed && $0.token == token && $0.localPort == sport }
        #expect(down.localAddress == a2)
        #expect(try extraSubflows(client) == 0)
        let again = #expect(throws: MPTCPError.self) { try pm.destroySubflow(token: token, local: local, remote: remote) }
        #expect(again?.errno == ESRCH)
        #expect(again?.kernelMessage == "subflow not found")

        // Announce and remove an address.
        try pm.announce(token: token, address: Endpoint(id: 5, address: a2))
        let announced = try serverEvents.wait("announced") { $0.type == .announced && $0.remoteID == 5 }
        #expect(announced.remoteAddress == a2)
        try pm.remove(token: token, localID: 5)
        _ = try serverEvents.wait("removed") { $0.type == .removed && $0.remoteID == 5 }

        // Refusals keep the kernel's words.
        let badID = #expect(throws: MPTCPError.self) { try pm.announce(token: token, address: Endpoint(id: 0, address: a2)) }
        #expect(badID?.kernelMessage == "invalid addr id")
        let badToken = #expect(throws: MPTCPError.self) { try pm.remove(token: token &+ 1, localID: 5) }
        #expect(badToken?.kernelMessage == "invalid token")
        #expect(badToken?.hint?.contains("connections") == true)
        // The kernel ends the dump for an unknown token with an error (NLMSG_DONE carrying
        // -EINVAL and extack); tools that ignore it show an empty list.
        let unknownDump = #expect(throws: MPTCPError.self) { try pm.addresses(token: token &+ 1) }
        #expect(unknownDump?.kernelMessage == "invalid token")
    }

    /// `createSubflows` packs requests into datagrams of 64 and answers each one
    /// as `createSubflow` would, in order.
    @Test func aBatchOfCreationsAnswersEachRequestInOrder() throws {
        let clientEvents = try EventLog(lab.clientNamespace)
        let (server, client, token) = try connect(port: 6003, clientEvents: clientEvents)
        defer { client.stop(); server.stop() }
        let pm = try PathManager(namespace: lab.clientNamespace)
        let a2 = Endpoint(id: 1, address: lab.address("a", path: 2))
        let b1 = AddressAndPort(address: lab.address("b", path: 1), port: 6003)
        let b2 = AddressAndPort(address: lab.address("b", path: 2), port: 6003)
        let results = try pm.createSubflows([
            .init(token: token, local: a2, remote: b1),
            .init(token: token &+ 1, local: a2, remote: b1),
            .init(token: token, local: a2, remote: AddressAndPort(address: b1.address, port: 0)),
            .init(token: token, local: a2, remote: b2),
        ])
        #expect(results.count == 4)
        #expect((try? results[0].get()) != nil)
        #expect(results[1].failure?.kernelMessage == "invalid token")
        #expect(results[1].failure?.operation.contains(formatToken(token &+ 1)) == true, "each refusal names its own request")
        #expect(results[2].failure?.code == .invalidArgument, "refused before anything is sent")
        #expect((try? results[3].get()) != nil)
        for remote in [b1, b2] {
            _ = try clientEvents.wait("sf_established to \(remote)") {
                $0.type == .subflowEstablished && $0.token == token && $0.remoteAddress == remote.address
            }
        }
        #expect(try extraSubflows(client) == 2)

        // More than one datagram's worth: 70 answers, matched to their requests.
        let many = try pm.createSubflows((0..<70).map { .init(token: token &+ 2 &+ UInt32($0), local: a2, remote: b1) })
        #expect(many.count == 70)
        #expect(many.allSatisfy { $0.failure?.kernelMessage == "invalid token" })
        #expect(many[69].failure?.operation.contains(formatToken(token &+ 71)) == true)
        #expect(try pm.createSubflows([]).isEmpty)
    }

    @Test func theCLICreatesFlipsAndDestroysASubflow() throws {
        let clientEvents = try EventLog(lab.clientNamespace)
        let (server, client, token) = try connect(port: 6002, clientEvents: clientEvents)
        defer { client.stop(); server.stop() }
        let hex = formatToken(token)

        try lab.mptcpctl(lab.client, ["subflow", "create", "--token", hex, "--local", "10.0.2.1", "--dev", "a2",
                                      "--remote", "10.0.1.2:6002", "--backup"])
        let up = try clientEvents.wait("sf_established") { $0.type == .subflowEstablished && $0.token == token }
        // The event's backup bit is the peer's request; our own choice shows in the connection view below.
        #expect(up.backup == false)
        let sport = try #require(up.localPort)

        let list = try #require(try JSONSerialization.jsonObject(
            with: Data(lab.mptcpctl(lab.client, ["connections", "--json"]).stdout.utf8)) as? [[String: Any]])
        let subflows = try #require(list.first { $0["token"] as? String == hex }?["subflows"] as? [[String: Any]])
        let made = try #require(subflows.first { $0["local_port"] as? Int == Int(sport) })
        #expect(made["local_address"] as? String == "10.0.2.1")
        #expect(made["interface"] as? String == "a2")
        #expect(made["backup"] as? Bool == true)
        let ss = try lab.exec(lab.client, ["ss", "-tnH", "state", "established"]).stdout
        #expect(ss.contains("10.0.2.1%a2:\(sport) "), "ss shows the subflow bound to a2")

        try lab.mptcpctl(lab.client, ["subflow", "set", "--token", "0x" + hex, "--local", "10.0.2.1:\(sport)",
                                      "--remote", "10.0.1.2:6002", "--no-backup"])
        let flipped = try #require(try ConnectionTable.read(namespace: lab.clientNamespace)
            .first { $0.token == token }?.subflows.first { $0.localPort == sport })
        #expect(!flipped.backupLocal)

        try lab.mptcpctl(lab.client, ["subflow", "destroy", "--token", hex, "--local", "10.0.2.1:\(sport)",
                                      "--remote", "10.0.1.2:6002"])
        _ = try clientEvents.wait("sf_closed") { $0.type == .subflowClosed && $0.localPort == sport }
        try lab.mptcpctl(lab.client, ["announce", "--token", hex, "--address", "10.0.2.1", "--id", "9"])
        try lab.mptcpctl(lab.client, ["remove", "--token", hex, "--id", "9"])
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}
