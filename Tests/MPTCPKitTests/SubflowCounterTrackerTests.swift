import Testing
@testable import MPTCPKit

@Suite struct SubflowCounterTrackerTests {
    static func subflow(_ local: String, port: UInt16, interface: Int32, token: UInt32 = 7,
                        sent: UInt64, acked: UInt64, received: UInt64, retrans: UInt32 = 0) -> Subflow {
        var info = TCPInfo(state: .established)
        info.bytesSent = sent
        info.bytesAcked = acked
        info.bytesReceived = received
        info.totalRetransmissions = retrans
        var subflow = Subflow(token: token, local: AddressAndPort(address: IPAddress(local)!, port: port),
                              remote: AddressAndPort(address: IPAddress("10.9.0.1")!, port: 443), localID: 0,
                              interfaceIndex: interface)
        subflow.tcpInfo = info
        return subflow
    }

    static func connection(_ subflows: [Subflow]) -> Connection {
        Connection(token: 7, side: .client, local: AddressAndPort(address: subflows[0].localAddress, port: 1),
                   remote: AddressAndPort(address: subflows[0].remoteAddress, port: 443), subflows: subflows)
    }

    @Test func aSubflowFirstSeenCountsWholeAndThenOnlyItsGrowth() {
        var tracker = SubflowCounterTracker()
        let eth1 = PathTrafficKey(interfaceIndex: 2, isIPv4: true)
        let first = tracker.advance([Self.connection([Self.subflow("10.0.1.2", port: 1, interface: 2, sent: 100, acked: 90, received: 50)])])
        #expect(first[eth1] == TrafficCounters(bytesSent: 100, bytesAcked: 90, bytesReceived: 50))
        let second = tracker.advance([Self.connection([Self.subflow("10.0.1.2", port: 1, interface: 2, sent: 300, acked: 290, received: 60, retrans: 2)])])
        #expect(second[eth1] == TrafficCounters(bytesSent: 200, bytesAcked: 200, bytesReceived: 10, retransmissions: 2))
        let idle = tracker.advance([Self.connection([Self.subflow("10.0.1.2", port: 1, interface: 2, sent: 300, acked: 290, received: 60, retrans: 2)])])
        #expect(idle.isEmpty)
    }

    @Test func pathsAreAddedUpPerInterfaceAndFamily() {
        var tracker = SubflowCounterTracker()
        _ = tracker.advance([])
        let carried = tracker.advance([Self.connection([
            Self.subflow("10.0.1.2", port: 1, interface: 2, sent: 10, acked: 10, received: 0),
            Self.subflow("10.0.1.2", port: 2, interface: 2, sent: 5, acked: 5, received: 0),
            Self.subflow("10.0.2.2", port: 3, interface: 3, sent: 1, acked: 1, received: 4),
            Self.subflow("fd00::2", port: 4, interface: 2, sent: 0, acked: 0, received: 8),
        ])])
        #expect(carried[PathTrafficKey(interfaceIndex: 2, isIPv4: true)]?.bytesAcked == 15)
        #expect(carried[PathTrafficKey(interfaceIndex: 3, isIPv4: true)]?.bytesReceived == 4)
        #expect(carried[PathTrafficKey(interfaceIndex: 2, isIPv4: false)]?.bytesReceived == 8)
        #expect(tracker.subflowCount == 4)
    }

    @Test func aCounterThatWentBackIsANewSocketAndCountsWhole() {
        var tracker = SubflowCounterTracker()
        _ = tracker.advance([Self.connection([Self.subflow("10.0.1.2", port: 1, interface: 2, sent: 1000, acked: 1000, received: 0)])])
        let reused = tracker.advance([Self.connection([Self.subflow("10.0.1.2", port: 1, interface: 2, sent: 40, acked: 40, received: 0)])])
        #expect(reused[PathTrafficKey(interfaceIndex: 2, isIPv4: true)]?.bytesSent == 40)
    }

    @Test func aVanishedSubflowIsForgotten() {
        var tracker = SubflowCounterTracker()
        _ = tracker.advance([Self.connection([Self.subflow("10.0.1.2", port: 1, interface: 2, sent: 1, acked: 1, received: 0)])])
        _ = tracker.advance([])
        #expect(tracker.subflowCount == 0)
    }
}
