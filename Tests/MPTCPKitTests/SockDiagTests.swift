import Testing
@testable import MPTCPKit

/// sock_diag decoding and the join of MPTCP sockets with their subflows.
@Suite struct SockDiagTests {
    /// A `struct inet_diag_msg` for an IPv4 socket, followed by `attributes`.
    static func diag(state: UInt8, local: [UInt8], lport: UInt16, remote: [UInt8], rport: UInt16,
                     ifIndex: UInt32 = 0, attributes: [UInt8]) -> NetlinkMessage {
        var p: [UInt8] = [2, state, 0, 0]
        p += [UInt8(lport >> 8), UInt8(lport & 0xff), UInt8(rport >> 8), UInt8(rport & 0xff)]
        p += local + [UInt8](repeating: 0, count: 12)
        p += remote + [UInt8](repeating: 0, count: 12)
        p += le32(ifIndex) + [UInt8](repeating: 0, count: 8)  // if, cookie
        p += [UInt8](repeating: 0, count: 20)  // expires, rqueue, wqueue, uid, inode
        return NetlinkMessage(type: RT.sockDiagByFamily, flags: 2, sequence: 1, portID: 0, payload: p + attributes)
    }

    /// A 6.18 `mptcp_info` (96 bytes): idle by default (nothing unacknowledged,
    /// nothing sent or received for a minute).
    static func mptcpInfo(token: UInt32, subflows: UInt8, unacked: UInt32 = 0, lastSent: UInt32 = 60_000,
                          lastReceived: UInt32 = 60_000) -> [UInt8] {
        var info = [UInt8](repeating: 0, count: 96)
        info[0] = subflows
        info.replaceSubrange(12..<16, with: le32(token))
        info.replaceSubrange(16..<20, with: le32(unacked))  // write_seq past snd_una (0, at 24)
        info.replaceSubrange(84..<88, with: le32(lastSent))
        info.replaceSubrange(88..<92, with: le32(lastReceived))
        info.replaceSubrange(92..<96, with: le32(60_000))
        var w = AttributeWriter()
        w.put(RT.inetDiagInfo, info)
        return w.bytes
    }

    static func ulp(token: UInt32, flags: UInt32, localID: UInt8, remoteID: UInt8) -> [UInt8] {
        var w = AttributeWriter()
        w.nest(RT.inetDiagULPInfo) { u in
            u.put(RT.inetULPInfoName, Array("mptcp".utf8) + [0])
            u.nest(RT.inetULPInfoMPTCP) { s in
                s.putU32(SubflowDiagAttr.tokenLocal, token)
                s.putU32(SubflowDiagAttr.flags, flags)
                s.putU8(SubflowDiagAttr.idLocal, localID)
                s.putU8(SubflowDiagAttr.idRemote, remoteID)
            }
        }
        return w.bytes
    }

    @Test func connectionsJoinTheirSubflowsByToken() throws {
        let a1: [UInt8] = [10, 0, 1, 1], a2: [UInt8] = [10, 0, 2, 1], b1: [UInt8] = [10, 0, 1, 2]
        let msk = [
            try ConnectionTable.DiagSocket(message: Self.diag(state: 1, local: a1, lport: 40000, remote: b1, rport: 5201,
                                                              attributes: Self.mptcpInfo(token: 0xabcd, subflows: 1)), mptcp: true),
            try ConnectionTable.DiagSocket(message: Self.diag(state: 10, local: [0, 0, 0, 0], lport: 5201, remote: [0, 0, 0, 0], rport: 0,
                                                              attributes: Self.mptcpInfo(token: 0, subflows: 0)), mptcp: true),
            try ConnectionTable.DiagSocket(message: Self.diag(state: 1, local: b1, lport: 5201, remote: a1, rport: 40000,
                                                              attributes: Self.mptcpInfo(token: 0x1234, subflows: 0)), mptcp: true),
        ]
        let tcp = [
            try ConnectionTable.DiagSocket(message: Self.diag(state: 1, local: a2, lport: 40001, remote: b1, rport: 5201, ifIndex: 7,
                                                              attributes: Self.ulp(token: 0xabcd, flags: 1 << 5, localID: 1, remoteID: 0)), mptcp: false),
            try ConnectionTable.DiagSocket(message: Self.diag(state: 1, local: a1, lport: 40000, remote: b1, rport: 5201,
                                                              attributes: Self.ulp(token: 0xabcd, flags: 0, localID: 0, remoteID: 0)), mptcp: false),
            try ConnectionTable.DiagSocket(message: Self.diag(state: 1, local: [10, 9, 9, 9], lport: 22, remote: a1, rport: 1,
                                                              attributes: []), mptcp: false),
        ]
        let interfaces = InterfaceTable(names: [3: "a1", 7: "a2"], addresses: [(IPAddress("10.0.1.1")!, 3)])
        let connections = ConnectionTable.assemble(msk: msk, tcp: tcp, interfaces: interfaces)
        #expect(connections.map(\.token) == [0x1234, 0xabcd])
        #expect(connections[0].side == .server)
        #expect(connections[0].subflows.isEmpty)
        let client = connections[1]
        #expect(client.side == .client)
        #expect(client.info.subflows == 1)
        #expect(client.subflows.map(\.localPort) == [40000, 40001])
        #expect(client.subflows.map(\.interfaceIndex) == [3, 7])
        #expect(client.subflows.map(\.backup) == [false, true])
        #expect(client.subflows[1].backupLocal && !client.subflows[1].backupRemote)
    }

    @Test func truncatedDiagMessageIsAnError() {
        let m = NetlinkMessage(type: RT.sockDiagByFamily, flags: 0, sequence: 1, portID: 0, payload: [2, 1, 0])
        #expect(throws: DecodeError.self) { try ConnectionTable.DiagSocket(message: m, mptcp: true) }
    }

    @Test func truncatedMPTCPInfoIsAnError() {
        #expect(throws: DecodeError.self) { try MPTCPInfo(bytes: [1, 2, 3]) }
    }
}
