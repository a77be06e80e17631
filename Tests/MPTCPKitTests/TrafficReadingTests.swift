import Testing
@testable import MPTCPKit

/// The narrow connection-table read's sums (`TrafficTally`, `AddressTraffic`):
/// fed the dump's sockets one at a time, they agree with the full table
/// (`ConnectionTable.assemble`) summed afterwards.
@Suite struct TrafficReadingTests {
    static let a1: [UInt8] = [10, 0, 1, 1], a2: [UInt8] = [10, 0, 2, 1], b1: [UInt8] = [10, 0, 1, 2], c1: [UInt8] = [10, 0, 9, 9]

    /// A 232-byte `struct tcp_info` with the figures a health reading uses (all idle by default: long ago).
    static func tcpInfo(unacked: UInt32 = 0, backoff: UInt8 = 0, acked: UInt64 = 0, received: UInt64 = 0,
                        lastSent: UInt32 = 60_000, lastReceived: UInt32 = 60_000, lastAck: UInt32 = 60_000) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 232)
        b[0] = 1
        b[4] = backoff
        func put32(_ at: Int, _ v: UInt32) { b.replaceSubrange(at..<(at + 4), with: le32(v)) }
        func put64(_ at: Int, _ v: UInt64) { put32(at, UInt32(v & 0xffff_ffff)); put32(at + 4, UInt32(v >> 32)) }
        put32(24, unacked); put32(44, lastSent); put32(52, lastReceived); put32(56, lastAck)
        put64(120, acked); put64(128, received)
        var w = AttributeWriter()
        w.put(RT.inetDiagInfo, b)
        return w.bytes
    }

    static func msk(state: UInt8 = 1, local: [UInt8], lport: UInt16, remote: [UInt8], rport: UInt16,
                    token: UInt32, unacked: UInt32 = 0, lastReceived: UInt32 = 60_000) throws -> ConnectionTable.DiagSocket {
        try ConnectionTable.DiagSocket(message: SockDiagTests.diag(state: state, local: local, lport: lport, remote: remote, rport: rport,
                                                                   attributes: SockDiagTests.mptcpInfo(token: token, subflows: 0, unacked: unacked,
                                                                                                       lastReceived: lastReceived)),
                                       mptcp: true)
    }

    static func subflow(state: UInt8 = 1, local: [UInt8], lport: UInt16, remote: [UInt8], rport: UInt16, token: UInt32?,
                        info: [UInt8]) throws -> ConnectionTable.DiagSocket {
        let ulp = token.map { SockDiagTests.ulp(token: $0, flags: 0, localID: 0, remoteID: 0) } ?? []
        return try ConnectionTable.DiagSocket(message: SockDiagTests.diag(state: state, local: local, lport: lport, remote: remote,
                                                                          rport: rport, attributes: info + ulp), mptcp: false)
    }

    /// A listener on 5201, a client connection (token 0xabcd) to b1 with two
    /// subflows (one stalled), a server connection (0x1234) with one, a
    /// subflow of no listed connection, and a plain TCP socket.
    static func table() throws -> (msk: [ConnectionTable.DiagSocket], tcp: [ConnectionTable.DiagSocket]) {
        let msk = [
            try msk(local: a1, lport: 40000, remote: b1, rport: 5201, token: 0xabcd),
            try msk(state: 10, local: [0, 0, 0, 0], lport: 5201, remote: [0, 0, 0, 0], rport: 0, token: 0),
            try msk(local: a1, lport: 5201, remote: c1, rport: 50000, token: 0x1234),
        ]
        let tcp = [
            try subflow(local: a1, lport: 40000, remote: b1, rport: 5201, token: 0xabcd,
                        info: tcpInfo(unacked: 4, backoff: 2, acked: 1000, received: 50, lastAck: 2500)),
            try subflow(state: 2, local: a2, lport: 40001, remote: b1, rport: 5201, token: 0xabcd, info: []),
            try subflow(local: a2, lport: 40002, remote: b1, rport: 5201, token: 0xabcd,
                        info: tcpInfo(unacked: 1, backoff: 5, acked: 7, lastAck: 900)),
            try subflow(local: a1, lport: 5201, remote: c1, rport: 50000, token: 0x1234, info: tcpInfo(received: 300)),
            try subflow(local: a1, lport: 5201, remote: c1, rport: 50001, token: 0x9999, info: tcpInfo(unacked: 9, lastSent: 5)),
            try subflow(local: a1, lport: 22, remote: c1, rport: 1, token: nil, info: tcpInfo(lastSent: 5)),
        ]
        return (msk, tcp)
    }

    /// Streams `table` in dump order: listeners, connections, subflows.
    static func stream(msk: [ConnectionTable.DiagSocket], tcp: [ConnectionTable.DiagSocket], addresses: Set<IPAddress>,
                       peersPerFamily: Int = 4) -> TrafficReading {
        var tally = TrafficTally(addresses: addresses, peersPerFamily: peersPerFamily)
        msk.forEach { tally.listener($0) }
        msk.forEach { tally.connection($0) }
        tcp.forEach { tally.subflow($0) }
        return tally.reading
    }

    static func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    @Test func subflowsAreSummedPerAskedAddressOnlyWhenTheirConnectionIsListed() throws {
        let (msk, tcp) = try Self.table()
        let reading = Self.stream(msk: msk, tcp: tcp, addresses: [Self.ip("10.0.1.1"), Self.ip("10.0.2.1")])
        var first = AddressTraffic()
        first.subflows = 2
        first.established = 2
        first.bytesAcked = 1000
        first.bytesReceived = 50 + 300
        first.maxBackoff = 2
        first.hasUnackedData = true
        first.lastAckAgeMilliseconds = 2500
        #expect(reading.byAddress[Self.ip("10.0.1.1")] == first, "the 0x9999 subflow and the plain TCP socket are not counted")
        var second = AddressTraffic()
        second.subflows = 2
        second.established = 1
        second.bytesAcked = 7
        second.maxBackoff = 5
        second.hasUnackedData = true
        second.lastAckAgeMilliseconds = 900
        #expect(reading.byAddress[Self.ip("10.0.2.1")] == second, "a syn-sent subflow without tcp_info counts, not as established")
        #expect(reading.isBusy, "unacked data")
        #expect(reading.peers == [Self.ip("10.0.1.2")], "only the client-side connection's peer")
        let path = try #require(reading.traffic(of: [Self.ip("10.0.1.1"), Self.ip("10.0.2.1"), Self.ip("10.0.1.1")]))
        #expect(path.subflows == 4 && path.established == 3 && path.bytesAcked == 1007 && path.bytesReceived == 350)
        #expect(path.maxBackoff == 5 && path.lastAckAgeMilliseconds == 900)
        #expect(reading.traffic(of: [Self.ip("10.0.3.1")]) == nil)
    }

    @Test func onlyTheAskedAddressesAreKeptButAnySubflowMakesTheTableBusy() throws {
        let (msk, _) = try Self.table()
        let tcp = [try Self.subflow(local: Self.a2, lport: 40001, remote: Self.b1, rport: 5201, token: 0xabcd,
                                    info: Self.tcpInfo(lastReceived: 300))]
        let reading = Self.stream(msk: msk, tcp: tcp, addresses: [Self.ip("10.0.1.1")])
        #expect(reading.byAddress.isEmpty)
        #expect(reading.isBusy, "data received 300 ms ago on an address not asked for")
        let idle = Self.stream(msk: msk, tcp: [try Self.subflow(local: Self.a2, lport: 40001, remote: Self.b1, rport: 5201,
                                                                token: 0xabcd, info: Self.tcpInfo())], addresses: [])
        #expect(!idle.isBusy)
    }

    /// A connection has data in flight by its `mptcp_info` (ours unacknowledged,
    /// or data sent or received within the last second), whatever its
    /// subflows' own figures (a stale subflow's unacknowledged data is not
    /// the connection's); only its established subflows mark their address.
    @Test func anAddressCarriesAConnectionInFlightByTheConnectionsMPTCPInfo() throws {
        let addresses: Set<IPAddress> = [Self.ip("10.0.1.1"), Self.ip("10.0.2.1")]
        func reading(_ msk: ConnectionTable.DiagSocket, subflowState: UInt8 = 1) throws -> TrafficReading {
            let tcp = [try Self.subflow(state: subflowState, local: Self.a1, lport: 40000, remote: Self.b1, rport: 5201, token: 0xabcd,
                                        info: Self.tcpInfo(unacked: 30, backoff: 4, lastAck: 3000))]
            let reading = Self.stream(msk: [msk], tcp: tcp, addresses: addresses)
            let connections = ConnectionTable.assemble(msk: [msk], tcp: tcp, interfaces: InterfaceTable(names: [:], addresses: []))
            #expect(reading == TrafficReading(connections: connections, addresses: addresses, peersPerFamily: 4))
            return reading
        }
        let idle = try reading(Self.msk(local: Self.a1, lport: 40000, remote: Self.b1, rport: 5201, token: 0xabcd))
        #expect(idle.byAddress[Self.ip("10.0.1.1")]?.carriesConnectionInFlight == false, "a stalled subflow of an idle connection")
        let sending = try reading(Self.msk(local: Self.a1, lport: 40000, remote: Self.b1, rport: 5201, token: 0xabcd, unacked: 1))
        #expect(sending.byAddress[Self.ip("10.0.1.1")]?.carriesConnectionInFlight == true, "write_seq past snd_una")
        let receiving = try reading(Self.msk(local: Self.a1, lport: 40000, remote: Self.b1, rport: 5201, token: 0xabcd,
                                             lastReceived: 200))
        #expect(receiving.byAddress[Self.ip("10.0.1.1")]?.carriesConnectionInFlight == true, "data received 200 ms ago")
        let joining = try reading(Self.msk(local: Self.a1, lport: 40000, remote: Self.b1, rport: 5201, token: 0xabcd, unacked: 1),
                                  subflowState: 2)
        #expect(joining.byAddress[Self.ip("10.0.1.1")]?.carriesConnectionInFlight == false, "a join still in SYN-SENT is not closed mid-flight")
        var path = AddressTraffic()
        path.add(try #require(idle.byAddress[Self.ip("10.0.1.1")]))
        path.add(try #require(sending.byAddress[Self.ip("10.0.1.1")]))
        #expect(path.carriesConnectionInFlight)
    }

    @Test func theStreamedSumsAgreeWithTheAssembledTable() throws {
        let (msk, tcp) = try Self.table()
        let addresses: Set<IPAddress> = [Self.ip("10.0.1.1"), Self.ip("10.0.2.1")]
        let connections = ConnectionTable.assemble(msk: msk, tcp: tcp, interfaces: InterfaceTable(names: [:], addresses: []))
        let reference = TrafficReading(connections: connections, addresses: addresses, peersPerFamily: 4)
        #expect(Self.stream(msk: msk, tcp: tcp, addresses: addresses) == reference)
        // In whatever order the kernel dumps them.
        #expect(Self.stream(msk: msk.reversed(), tcp: tcp.reversed(), addresses: addresses) == reference)
    }

    @Test func peersAreThoseOfTheLeastTokensPerFamilyEachOnceWhateverTheDumpOrder() throws {
        // Client connections: token i to peer 192.0.2.(i % 7), plus IPv6 ones.
        var msk: [ConnectionTable.DiagSocket] = []
        for token in UInt32(1)...40 {
            msk.append(try Self.msk(local: Self.a1, lport: UInt16(40000 + token), remote: [192, 0, 2, UInt8(100 - token % 7)],
                                    rport: 443, token: token * 3 % 41))
        }
        let addresses: Set<IPAddress> = []
        let connections = ConnectionTable.assemble(msk: msk, tcp: [], interfaces: InterfaceTable(names: [:], addresses: []))
        var seen = Set<IPAddress>()
        let everyPeer = connections.filter { $0.side == .client }.map(\.remoteAddress).filter { seen.insert($0).inserted }
        #expect(everyPeer.count == 7)
        for order in [msk, msk.reversed(), msk.shuffled(), msk.shuffled()] {
            let reading = Self.stream(msk: order, tcp: [], addresses: addresses, peersPerFamily: 4)
            #expect(reading.peers == Array(everyPeer.prefix(4)), "\(reading.peers) against \(everyPeer)")
        }
        #expect(Self.stream(msk: msk, tcp: [], addresses: addresses, peersPerFamily: 10).peers == everyPeer)
        #expect(Self.stream(msk: msk, tcp: [], addresses: addresses, peersPerFamily: 0).peers.isEmpty)
    }

    @Test func aJoinWhoseSYNGoesUnansweredIsNoStall() {
        var a = AddressTraffic()
        var syn = TCPInfo(state: .synSent, backoff: 4)
        syn.unacked = 1
        syn.lastAckReceivedMilliseconds = 9000
        a.add(state: .synSent, tcpInfo: syn)
        var idle = TCPInfo(state: .established, backoff: 3)
        idle.bytesAcked = 10
        a.add(state: .established, tcpInfo: idle)
        #expect(a.subflows == 2 && a.established == 1 && a.bytesAcked == 10)
        #expect(!a.hasUnackedData && a.maxBackoff == 0 && a.lastAckAgeMilliseconds == nil,
                "a SYN retransmitted, and a back-off left on a subflow with nothing in flight, are no stall")
    }

    @Test func aPathsAddressesAddUpAsOneSum() {
        var a = AddressTraffic()
        a.add(state: .established, tcpInfo: nil)
        var info = TCPInfo(state: .established, backoff: 1)
        info.unacked = 2
        info.bytesAcked = .max
        info.bytesReceived = 2
        a.add(state: .established, tcpInfo: info)
        #expect(a.subflows == 2 && a.established == 2 && a.bytesAcked == .max && a.bytesReceived == 2)
        #expect(a.hasUnackedData && a.lastAckAgeMilliseconds == nil, "no ack age reported")
        var b = AddressTraffic()
        var late = TCPInfo(state: .finWait1, backoff: 4)
        late.unacked = 1
        late.lastAckReceivedMilliseconds = 70
        b.add(state: .finWait1, tcpInfo: late)
        a.add(b)
        #expect(a.subflows == 3 && a.established == 2 && a.maxBackoff == 4 && a.lastAckAgeMilliseconds == 70)
    }
}
