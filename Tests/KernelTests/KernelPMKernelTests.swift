import Foundation
import MPTCPKit
import Testing

/// A real connection under the in-kernel path manager: every event type,
/// `connections` cross-checked with `ss`, and the userspace-only commands refused.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class KernelPMKernelTests {
    let lab: Lab
    let port = 5201

    init() throws {
        lab = try Lab(paths: 2)
    }

    deinit { lab.close() }

    @Test func ignoredEventTypesNeverReachTheSubscription() throws {
        try PathManager(namespace: lab.serverNamespace).setLimits(subflows: 2, addAddrAccepted: 2)
        let filtered = try EventLog(lab.clientNamespace)
        try filtered.subscription.ignore([.created, .subflowPriority])
        let all = try EventLog(lab.clientNamespace)
        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", String(port + 1)])
        defer { server.stop() }
        _ = try server.wait(for: "listening")
        let client = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", String(port + 1)])
        defer { client.stop() }
        _ = try client.wait(for: "connected")
        client.send("send 1000")
        let created = try all.wait("created, unfiltered") { $0.type == .created }
        let token = try #require(created.token)
        _ = try filtered.wait("established, through the filter") { $0.type == .established && $0.token == token }
        #expect(!filtered.seen.contains { if case .event(let e) = $0 { e.type == .created } else { false } },
                "CREATED was dropped before it was queued")
    }

    @Test func everyEventTypeAndTheConnectionView() throws {
        let clientPM = try PathManager(namespace: lab.clientNamespace)
        let serverPM = try PathManager(namespace: lab.serverNamespace)
        // The client accepts no announced address: ANNOUNCED is still reported, but the kernel
        // does not open a subflow to it behind the test's back, between two reads of the view.
        try clientPM.setLimits(subflows: 2, addAddrAccepted: 0)
        try serverPM.setLimits(subflows: 2, addAddrAccepted: 2)
        let a2Index = try #require(try InterfaceTable.read(namespace: lab.clientNamespace).index(of: "a2"))
        try clientPM.addEndpoint(Endpoint(id: 1, address: lab.address("a", path: 2), flags: .subflow, interfaceIndex: a2Index))

        let clientEvents = try EventLog(lab.clientNamespace)
        let serverEvents = try EventLog(lab.serverNamespace)

        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", String(port)])
        defer { server.stop() }
        _ = try server.wait(for: "listening")
        let listener = try serverEvents.wait("listener_created") { $0.type == .listenerCreated }
        #expect(listener.localPort == UInt16(port))
        #expect(listener.localAddress == IPAddress("0.0.0.0"))

        let client = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", String(port)])
        defer { client.stop() }
        _ = try client.wait(for: "connected")
        // The in-kernel path manager opens extra subflows once the connection has carried data.
        client.send("send 1000")

        let created = try clientEvents.wait("created") { $0.type == .created }
        #expect(!created.isServerSide)
        #expect(created.remoteAddress == lab.address("b", path: 1))
        #expect(created.remotePort == UInt16(port))
        let token = try #require(created.token)
        let established = try clientEvents.wait("established") { $0.type == .established && $0.token == token }
        #expect(established.localAddress == lab.address("a", path: 1))

        let serverCreated = try serverEvents.wait("server created") { $0.type == .created }
        #expect(serverCreated.isServerSide)
        #expect(serverCreated.localPort == UInt16(port))
        let serverToken = try #require(serverCreated.token)
        _ = try serverEvents.wait("server established") { $0.type == .established && $0.token == serverToken }

        let joined = try clientEvents.wait("sf_established") { $0.type == .subflowEstablished && $0.token == token }
        #expect(joined.localAddress == lab.address("a", path: 2))
        #expect(joined.remoteAddress == lab.address("b", path: 1))
        #expect(joined.localID == 1)
        #expect(joined.backup == false)
        #expect(joined.interfaceIndex == a2Index, "a subflow bound to a device reports its interface")
        let subflowPort = try #require(joined.localPort)

        // The peer announces an address: ANNOUNCED on the client.
        try serverPM.addEndpoint(Endpoint(id: 7, address: lab.address("b", path: 2), flags: .signal))
        let announced = try clientEvents.wait("announced") { $0.type == .announced && $0.token == token }
        #expect(announced.remoteID == 7)
        #expect(announced.remoteAddress == lab.address("b", path: 2))

        // Backup on the client's endpoint: MP_PRIO, SUB_PRIORITY on the server.
        try clientPM.setEndpointFlags(id: 1, flags: .backup)
        let priority = try serverEvents.wait("sf_priority") { $0.type == .subflowPriority && $0.backup == true }
        #expect(priority.remoteAddress == lab.address("a", path: 2))

        // The connection view, compared with ss.
        let connections = try ConnectionTable.read(namespace: lab.clientNamespace)
        let connection = try #require(connections.first { $0.token == token })
        #expect(connection.side == .client)
        #expect(connection.localAddress == lab.address("a", path: 1))
        #expect(connection.remoteAddress == lab.address("b", path: 1))
        #expect(connection.remotePort == UInt16(port))
        let viaA2 = try #require(connection.subflows.first { $0.localPort == subflowPort })
        #expect(viaA2.localAddress == lab.address("a", path: 2))
        #expect(viaA2.interfaceIndex == a2Index)
        #expect(viaA2.backup)
        #expect(connection.subflows.count == Int(connection.info.subflows) + 1)
        let initial = try #require(connection.subflows.first { $0.localPort == connection.localPort })
        #expect(!initial.backup)
        let a1Index = try InterfaceTable.read(namespace: lab.clientNamespace).index(of: "a1")
        #expect(initial.interfaceIndex == a1Index, "an unbound subflow reports the interface holding its address")

        let ssMPTCP = try lab.exec(lab.client, ["ss", "-MnH", "state", "established"]).stdout
        #expect(ssMPTCP.contains("10.0.1.1:\(connection.localPort)") && ssMPTCP.contains("10.0.1.2:\(port)"))
        let ssTCP = try lab.exec(lab.client, ["ss", "-tnH", "state", "established"]).stdout
        let names = try InterfaceTable.read(namespace: lab.clientNamespace).names
        for s in connection.subflows {
            // ss writes a device-bound socket's address as ADDR%DEV:PORT.
            let plain = "\(s.localAddress):\(s.localPort) "
            let bound = "\(s.localAddress)%\(names[s.interfaceIndex] ?? "?"):\(s.localPort) "
            #expect(ssTCP.contains(plain) || ssTCP.contains(bound), "ss -t lists subflow \(s.localAddress):\(s.localPort)")
        }

        let serverView = try ConnectionTable.read(namespace: lab.serverNamespace)
        #expect(serverView.first { $0.token == serverToken }?.side == .server)

        // The CLI shows the same.
        let cli = try lab.mptcpctl(lab.client, ["--json", "connections"]).stdout
        let list = try #require(try JSONSerialization.jsonObject(with: Data(cli.utf8)) as? [[String: Any]])
        let entry = try #require(list.first { $0["token"] as? String == formatToken(token) })
        #expect(entry["side"] as? String == "client")
        #expect(entry["remote_port"] as? Int == port)
        let subflows = try #require(entry["subflows"] as? [[String: Any]])
        #expect(subflows.count == connection.subflows.count)
        #expect(subflows.contains { $0["interface"] as? String == "a2" && $0["backup"] as? Bool == true })

        // Userspace-PM commands on a kernel-PM connection are refused.
        let refused = #expect(throws: MPTCPError.self) {
            try clientPM.createSubflow(token: token, local: Endpoint(id: 3, address: self.lab.address("a", path: 2)),
                                       remote: AddressAndPort(address: self.lab.address("b", path: 2), port: UInt16(self.port)))
        }
        #expect(refused?.kernelMessage?.contains("userspace PM not selected") == true)

        // The peer withdraws its address: REMOVED.
        try serverPM.deleteEndpoint(id: 7)
        let removed = try clientEvents.wait("removed") { $0.type == .removed && $0.token == token }
        #expect(removed.remoteID == 7)

        // The client's endpoint goes: its subflow closes alone (SUB_CLOSED); then the connection
        // closes (CLOSED) and the listener goes (LISTENER_CLOSED).
        try clientPM.deleteEndpoint(id: 1)
        let subflowClosed = try clientEvents.wait("sf_closed") { $0.type == .subflowClosed && $0.token == token }
        #expect(subflowClosed.localAddress == lab.address("a", path: 2))
        client.send("quit")
        _ = try clientEvents.wait("closed") { $0.type == .closed && $0.token == token }
        server.stop()
        let gone = try serverEvents.wait("listener_closed") { $0.type == .listenerClosed }
        #expect(gone.localPort == UInt16(port))
    }

    @Test func monitorPrintsEventsAsLinesAndJSON() throws {
        let monitor = Process()
        monitor.executableURL = URL(fileURLWithPath: Repository.mptcpctl)
        monitor.arguments = ["-n", lab.server, "--json", "monitor", "--count", "2"]
        let out = Pipe()
        monitor.standardOutput = out
        try monitor.run()
        Thread.sleep(forTimeInterval: 0.5)
        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", "5301"])
        _ = try server.wait(for: "listening")
        server.stop()
        monitor.waitUntilExit()
        #expect(monitor.terminationStatus == 0)
        let lines = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 2)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["type"] as? String == "listener_created")
        #expect(first["local_port"] as? Int == 5301)
        let second = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(second["type"] as? String == "listener_closed")
    }

    @Test func monitorStopsCleanlyOnInterrupt() throws {
        let monitor = Process()
        monitor.executableURL = URL(fileURLWithPath: Repository.mptcpctl)
        monitor.arguments = ["-n", lab.server, "monitor"]
        let out = Pipe()
        monitor.standardOutput = out
        try monitor.run()
        Thread.sleep(forTimeInterval: 0.5)
        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", "5302"])
        _ = try server.wait(for: "listening")
        Thread.sleep(forTimeInterval: 0.3)
        monitor.interrupt()
        monitor.waitUntilExit()
        server.stop()
        #expect(monitor.terminationStatus == 0)
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(text.hasPrefix("[LISTENER_CREATED] family=inet saddr=0.0.0.0 sport=5302"))
    }
}
