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

    @Test func defaultBufferIsLarge() throws {
        let lab = try Lab(paths: 1)
        defer { lab.close() }
        let subscription = try EventSubscription(namespace: lab.serverNamespace)
        #expect(subscription.receiveBufferSize >= EventSubscription.defaultReceiveBuffer, "SO_RCVBUFFORCE as root")
    }
}
