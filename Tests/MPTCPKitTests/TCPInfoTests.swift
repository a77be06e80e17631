import Testing
@testable import MPTCPKit

/// `struct tcp_info` decoding: the offsets of include/uapi/linux/tcp.h, and
/// tolerance of the shorter structs older kernels report and longer ones of newer kernels.
@Suite struct TCPInfoTests {
    /// A 232-byte `struct tcp_info` (6.x up to tcpi_rcv_wnd) with distinct values in every field read.
    static func full() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 232)
        b[0] = 1  // established
        b[2] = 3  // retransmits
        b[4] = 2  // backoff
        func put32(_ at: Int, _ v: UInt32) { b.replaceSubrange(at..<(at + 4), with: le32(v)) }
        func put64(_ at: Int, _ v: UInt64) { b.replaceSubrange(at..<(at + 8), with: le32(UInt32(v & 0xffff_ffff)) + le32(UInt32(v >> 32))) }
        put32(8, 204_000); put32(24, 7); put32(32, 1); put32(36, 2); put32(44, 10); put32(52, 20); put32(56, 30)
        put32(68, 1500); put32(72, 750); put32(80, 10); put32(100, 42)
        put64(104, 6_250_000); put64(120, 0x1_0000_0005); put64(128, 999); put64(160, 5_000_000)
        put64(200, 0x2_0000_0000); put64(208, 4096)
        return b
    }

    @Test func everyFieldIsReadFromItsOffsetInTheKernelsLayout() throws {
        let info = try TCPInfo(bytes: Self.full())
        #expect(info.state == .established)
        #expect(info.retransmits == 3)
        #expect(info.backoff == 2)
        #expect(info.rtoMicroseconds == 204_000)
        #expect(info.unacked == 7)
        #expect(info.hasUnackedData)
        #expect(info.lost == 1)
        #expect(info.retrans == 2)
        #expect(info.lastDataSentMilliseconds == 10)
        #expect(info.lastDataReceivedMilliseconds == 20)
        #expect(info.lastAckReceivedMilliseconds == 30)
        #expect(info.rttMicroseconds == 1500)
        #expect(info.rttVarianceMicroseconds == 750)
        #expect(info.sendCongestionWindow == 10)
        #expect(info.totalRetransmissions == 42)
        #expect(info.pacingRate == 6_250_000)
        #expect(info.bytesAcked == 0x1_0000_0005)
        #expect(info.bytesReceived == 999)
        #expect(info.deliveryRate == 5_000_000)
        #expect(info.bytesSent == 0x2_0000_0000)
        #expect(info.bytesRetransmitted == 4096)
    }

    @Test func fieldsBeyondAShortKernelsStructAreNil() throws {
        // 104 bytes: the 2.6-era struct, up to tcpi_total_retrans.
        let old = try TCPInfo(bytes: Array(Self.full().prefix(104)))
        #expect(old.totalRetransmissions == 42)
        #expect(old.rttMicroseconds == 1500)
        #expect(old.pacingRate == nil)
        #expect(old.bytesAcked == nil)
        #expect(old.bytesSent == nil)
        // 192 bytes (4.x): bytes_acked and delivery_rate, not yet bytes_sent.
        let middle = try TCPInfo(bytes: Array(Self.full().prefix(192)))
        #expect(middle.bytesAcked == 0x1_0000_0005)
        #expect(middle.deliveryRate == 5_000_000)
        #expect(middle.bytesSent == nil)
        #expect(middle.bytesRetransmitted == nil)
        // A field cut in the middle is absent, not half read.
        let cut = try TCPInfo(bytes: Array(Self.full().prefix(124)))
        #expect(cut.pacingRate == 6_250_000)
        #expect(cut.bytesAcked == nil)
        // Only the leading bytes: no u32 field at all.
        let minimal = try TCPInfo(bytes: Array(Self.full().prefix(8)))
        #expect(minimal.backoff == 2)
        #expect(minimal.rtoMicroseconds == nil)
        #expect(!minimal.hasUnackedData)
    }

    @Test func aLongerStructFromANewerKernelDecodesTheSameFields() throws {
        let longer = try TCPInfo(bytes: Self.full() + [UInt8](repeating: 0xee, count: 64))
        #expect(longer == (try TCPInfo(bytes: Self.full())))
    }

    @Test func aStructShorterThanItsByteFieldsIsADecodeError() {
        #expect(throws: DecodeError.self) { try TCPInfo(bytes: [1, 0, 0]) }
    }

    @Test func aSubflowCarriesTheTCPInfoOfTheTCPDump() throws {
        let a1: [UInt8] = [10, 0, 1, 1], b1: [UInt8] = [10, 0, 1, 2]
        var w = AttributeWriter()
        w.put(RT.inetDiagInfo, Self.full())
        let msk = try ConnectionTable.DiagSocket(
            message: SockDiagTests.diag(state: 1, local: a1, lport: 40000, remote: b1, rport: 5201,
                                        attributes: SockDiagTests.mptcpInfo(token: 0xabcd, subflows: 0)), mptcp: true)
        let tcp = try ConnectionTable.DiagSocket(
            message: SockDiagTests.diag(state: 1, local: a1, lport: 40000, remote: b1, rport: 5201,
                                        attributes: w.bytes + SockDiagTests.ulp(token: 0xabcd, flags: 0, localID: 0, remoteID: 0)),
            mptcp: false)
        let connections = ConnectionTable.assemble(msk: [msk], tcp: [tcp], interfaces: InterfaceTable(names: [:], addresses: []))
        let subflow = try #require(connections.first?.subflows.first)
        #expect(subflow.tcpInfo?.bytesAcked == 0x1_0000_0005)
        #expect(subflow.tcpInfo?.backoff == 2)
        // The MPTCP dump's INET_DIAG_INFO stays mptcp_info.
        #expect(connections.first?.info.token == 0xabcd)
        #expect(msk.tcpInfo == nil)
    }
}

/// The `tcp_info` figures `ss -ti` shows beyond the health check's: MSS, slow-start threshold, minimum RTT.
@Suite struct TCPInfoFiguresTests {
    @Test func mssSlowStartThresholdAndMinimumRTTAreReadFromTheirOffsets() throws {
        var b = TCPInfoTests.full()
        b.replaceSubrange(16..<20, with: le32(1448))
        b.replaceSubrange(76..<80, with: le32(0x7fff_ffff))
        b.replaceSubrange(148..<152, with: le32(950))
        let info = try TCPInfo(bytes: b)
        #expect(info.sendMSS == 1448)
        #expect(info.sendSlowStartThreshold == 0x7fff_ffff)
        #expect(info.minRTTMicroseconds == 950)
        let old = try TCPInfo(bytes: Array(b.prefix(104)))
        #expect(old.sendMSS == 1448 && old.minRTTMicroseconds == nil)
    }
}
