import Testing
@testable import MPTCPKit

/// `struct mptcp_info` decoding: every field of the 6.18 layout from its offset,
/// and the fields a shorter (older) kernel's struct lacks left nil.
@Suite struct MPTCPInfoTests {
    /// A 96-byte 6.18 `struct mptcp_info` with distinct values in every field.
    static func full() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 96)
        for (at, v) in [(0, 1), (1, 2), (2, 3), (3, 8), (4, 4), (5, 5), (40, 6), (41, 7), (42, 1), (80, 9), (81, 10), (82, 11)] {
            b[at] = UInt8(v)
        }
        func put32(_ at: Int, _ v: UInt32) { b.replaceSubrange(at..<(at + 4), with: le32(v)) }
        func put64(_ at: Int, _ v: UInt64) { b.replaceSubrange(at..<(at + 8), with: le32(UInt32(v & 0xffff_ffff)) + le32(UInt32(v >> 32))) }
        put32(8, 3); put32(12, 0xabcd_ef01)
        put64(16, 0xfedc_ba98_7654_3210); put64(24, 0xfedc_ba98_7654_0000); put64(32, 0x1234_5678_9abc_def0)
        put32(44, 12); put64(48, 4096); put64(56, 0x1_0000_0001); put64(64, 777); put64(72, 0x1_0000_0000)
        put32(84, 10); put32(88, 20); put32(92, 30)
        return b
    }

    @Test func everyFieldOfThe618LayoutIsReadFromItsOffset() throws {
        let i = try MPTCPInfo(bytes: Self.full())
        #expect([i.subflows, i.addAddrSignal, i.addAddrAccepted, i.subflowsMax, i.addAddrSignalMax, i.addAddrAcceptedMax]
                == [1, 2, 3, 8, 4, 5])
        #expect(i.flags == 3 && i.fellBack && i.remoteKeyReceived)
        #expect(i.token == 0xabcd_ef01)
        #expect(i.writeSequence == 0xfedc_ba98_7654_3210)
        #expect(i.sendUnacknowledged == 0xfedc_ba98_7654_0000)
        #expect(i.receiveNext == 0x1234_5678_9abc_def0)
        #expect(i.localAddressesUsed == 6 && i.localAddressesMax == 7 && i.checksumEnabled == true)
        #expect(i.retransmits == 12 && i.bytesRetransmitted == 4096)
        #expect(i.bytesSent == 0x1_0000_0001 && i.bytesReceived == 777 && i.bytesAcked == 0x1_0000_0000)
        #expect(i.subflowsTotal == 9 && i.endpointsLaminarMax == 10 && i.endpointsFullmeshMax == 11)
        #expect(i.lastDataSentMilliseconds == 10 && i.lastDataReceivedMilliseconds == 20 && i.lastAckReceivedMilliseconds == 30)
    }

    @Test func fieldsBeyondAnOlderKernelsStructAreNil() throws {
        // 5.7: up to rcv_nxt (40 bytes).
        let first = try MPTCPInfo(bytes: Array(Self.full().prefix(40)))
        #expect(first.receiveNext == 0x1234_5678_9abc_def0)
        #expect(first.localAddressesUsed == nil && first.checksumEnabled == nil && first.bytesSent == nil)
        // 6.5: up to bytes_acked (80 bytes), without subflows_total and the last-activity ages.
        let middle = try MPTCPInfo(bytes: Array(Self.full().prefix(80)))
        #expect(middle.bytesAcked == 0x1_0000_0000 && middle.retransmits == 12)
        #expect(middle.subflowsTotal == nil && middle.lastDataSentMilliseconds == nil)
        // Only the leading 16 bytes: the counters every kernel has.
        let minimal = try MPTCPInfo(bytes: Array(Self.full().prefix(16)))
        #expect(minimal.token == 0xabcd_ef01 && minimal.subflowsMax == 8)
        #expect(minimal.writeSequence == nil)
    }

    @Test func aLongerStructFromANewerKernelDecodesTheSameFields() throws {
        #expect(try MPTCPInfo(bytes: Self.full() + [UInt8](repeating: 0xee, count: 32)) == MPTCPInfo(bytes: Self.full()))
    }

    @Test func theMPTCPDumpsInfoAttributeIsTheFullStruct() throws {
        var w = AttributeWriter()
        w.put(RT.inetDiagInfo, Self.full())
        let msk = try ConnectionTable.DiagSocket(
            message: SockDiagTests.diag(state: 1, local: [10, 0, 1, 1], lport: 40000, remote: [10, 0, 1, 2], rport: 5201,
                                        attributes: w.bytes), mptcp: true)
        #expect(msk.mptcpInfo == (try MPTCPInfo(bytes: Self.full())))
    }
}
