import Foundation
import MPTCPKit
import Testing

/// A burst that overruns the event socket is reported as lost events, and the
/// subscription keeps delivering afterwards (mptcpd goes deaf here).
@Suite(.enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
struct EventLossKernelTests {
    @Test func overrunIsReportedAndReadingContinues() throws {
        let lab = try Lab(paths: 1)
        defer { lab.close() }
        // The smallest buffer the kernel grants, so a burst of listener events overruns it.
        let events = try EventLog(lab.serverNamespace, receiveBuffer: 1)
        #expect(events.subscription.receiveBufferSize < 8192)
        let burst = """
            import socket
            for i in range(400):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
                s.bind(("127.0.0.1", 0)); s.listen(); s.close()
            """
        try lab.exec(lab.server, [Repository.python ?? "python3", "-c", burst])
        var lost = false
        var delivered = 0
        while true {
            let batch = try events.subscription.next(timeoutMilliseconds: 300)
            if batch.isEmpty { break }
            for notice in batch {
                if notice == .eventsLost { lost = true } else { delivered += 1 }
            }
        }
        #expect(lost, "800 events into a tiny buffer must overrun")
        #expect(delivered < 800)

        try lab.exec(lab.server, [Repository.python ?? "python3", "-c",
                                  "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)\ns.bind(('127.0.0.1', 7777)); s.listen(); s.close()"])
        let after = try events.wait("listener after overrun") { $0.type == .listenerCreated && $0.localPort == 7777 }
        #expect(after.localAddress == IPAddress("127.0.0.1"))
    }

    /// Events queued while nobody reads come back from one `next`, in order.
    @Test func queuedEventsComeBackFromOneRead() throws {
        let lab = try Lab(paths: 1)
        defer { lab.close() }
        let events = try EventLog(lab.serverNamespace)
        try lab.exec(lab.server, [Repository.python ?? "python3", "-c", """
            import socket
            for port in range(7001, 7011):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
                s.bind(("127.0.0.1", port)); s.listen(); s.close()
            """])
        let batch = try events.subscription.next(timeoutMilliseconds: 1000)
        let ports = batch.compactMap { notice -> UInt16? in
            if case .event(let e) = notice, e.type == .listenerCreated { return e.localPort }
            return nil
        }
        #expect(batch.count == 20, "10 listeners created and closed")
        #expect(ports == Array(7001...7010))
    }

    /// A datagram sent to the event socket by a process (not the kernel) is dropped.
    @Test func eventsFromAProcessAreDropped() throws {
        let lab = try Lab(paths: 1)
        defer { lab.close() }
        let events = try EventLog(lab.serverNamespace)
        let link = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(events.subscription.fileDescriptor)")
        let inode = try #require(link.split(separator: "[").last?.dropLast())
        // /proc/net/netlink: sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
        let table = try lab.exec(lab.server, ["cat", "/proc/net/netlink"]).stdout
        let row = try #require(table.split(separator: "\n").map { $0.split(separator: " ") }.first { $0.last == inode })
        let port = try #require(UInt32(row[2]))
        let family = try #require(try lab.exec(lab.server, ["genl", "ctrl", "get", "name", "mptcp_pm"]).stdout
            .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            .drop { $0 != "ID:" }.dropFirst().first.flatMap { UInt16($0.dropFirst(2), radix: 16) })
        // A well-formed CREATED event (genl cmd 1) with a token attribute, from user space.
        try lab.exec(lab.server, [Repository.python ?? "python3", "-c", """
            import socket, struct
            s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)
            attr = struct.pack("=HHI", 8, 1, 0xdeadbeef)
            msg = struct.pack("=IHHII", 16 + 4 + len(attr), \(family), 0, 1, 0) + bytes([1, 1, 0, 0]) + attr
            s.sendto(msg, (\(port), 0))
            """])
        #expect(try events.subscription.next(timeoutMilliseconds: 300).isEmpty)
        try lab.exec(lab.server, [Repository.python ?? "python3", "-c",
                                  "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)\ns.bind(('127.0.0.1', 7777)); s.listen(); s.close()"])
        _ = try events.wait("a real event") { $0.type == .listenerCreated && $0.localPort == 7777 }
    }

    /// A filter that would drop every event type is refused; 255 types leave one.
    @Test func ignoringEveryEventTypeIsRefused() throws {
        let lab = try Lab(paths: 1)
        defer { lab.close() }
        let events = try EventLog(lab.serverNamespace)
        let all = Set((0...255).map { EventType(rawValue: UInt8($0)) })
        let refused = #expect(throws: MPTCPError.self) { try events.subscription.ignore(all) }
        #expect(refused?.code == .invalidArgument)
        try events.subscription.ignore(all.subtracting([.listenerCreated]))
        try lab.exec(lab.server, [Repository.python ?? "python3", "-c",
                                  "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)\ns.bind(('127.0.0.1', 7778)); s.listen(); s.close()"])
        let only = try events.subscription.next(timeoutMilliseconds: 1000)
        #expect(only.count == 1, "LISTENER_CLOSED is filtered out: \(only)")
        #expect(only.first.map { if case .event(let e) = $0 { e.type == .listenerCreated } else { false } } == true)
    }

    /// After an overrun the kernel keeps the socket "congested" until a read finds
    /// the queue empty (net/netlink/af_netlink.c: netlink_rcv_wake), and drops every
    /// event meanwhile with no further error, even once the queue has room again.
    /// `drainAfterLoss` empties the queue before reporting the loss, so a resync done
    /// next misses nothing and every later event arrives, burst after burst.
    @Test func afterADrainedLossEveryLaterEventArrives() throws {
        let lab = try Lab(paths: 1)
        defer { lab.close() }
        let events = try EventLog(lab.serverNamespace, receiveBuffer: 1)
        let python = Repository.python ?? "python3"
        for round in 0..<3 {
            try lab.exec(lab.server, [python, "-c", """
                import socket
                for i in range(400):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
                    s.bind(("127.0.0.1", 0)); s.listen(); s.close()
                """])
            #expect(try events.subscription.next(timeoutMilliseconds: 300, drainAfterLoss: true) == [.eventsLost])
            let port = 7780 + round
            try lab.exec(lab.server, [python, "-c", "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)\n"
                                      + "s.bind(('127.0.0.1', \(port))); s.listen(); s.close()"])
            _ = try events.wait("the listener after drained loss \(round)") { $0.type == .listenerCreated && $0.localPort == UInt16(port) }
        }
    }

    @Test func defaultBufferIsLarge() throws {
        let lab = try Lab(paths: 1)
        defer { lab.close() }
        let subscription = try EventSubscription(namespace: lab.serverNamespace)
        #expect(subscription.receiveBufferSize >= EventSubscription.defaultReceiveBuffer, "SO_RCVBUFFORCE as root")
    }
}
