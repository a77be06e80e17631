/// Lists MPTCP connections through sock_diag (`NETLINK_SOCK_DIAG`,
/// `SOCK_DIAG_BY_FAMILY`): the MPTCP sockets with their `mptcp_info`
/// (what `ss -M` shows) and the TCP subflows with their MPTCP ULP info
/// (what `ss -ti` shows), joined by token.
public enum ConnectionTable {
    /// TCP states, as sock_diag numbers them.
    static let tcpListen: UInt8 = 10

    /// The TCP states a subflow can be in: every state but TIME_WAIT (6),
    /// LISTEN (10) and NEW_SYN_RECV (12). Those sockets carry no MPTCP ULP
    /// info, so `assemble` drops them anyway, but a host that made many
    /// short-lived connections holds tens of thousands in TIME_WAIT for a
    /// minute: dumping them made each read allocate megabytes for nothing
    /// (the daemon's health thread reads the table several times a second).
    static let subflowStates: UInt32 = 0xffff_ffff & ~(1 << 6 | 1 << UInt32(tcpListen) | 1 << 12)

    /// Every MPTCP connection of `namespace` (listeners excluded), ordered by token.
    public static func read(namespace: NetworkNamespace = .current) throws(MPTCPError) -> [Connection] {
        try namespace.perform { () throws(MPTCPError) -> [Connection] in
            let sock = try NetlinkSocket(protocol: NL.protoSockDiag)
            var msk: [DiagSocket] = []
            var tcp: [DiagSocket] = []
            for family in [UInt8(2), UInt8(10)] {
                msk += try dump(sock, family: family, mptcp: true)
                tcp += try dump(sock, family: family, mptcp: false, states: subflowStates)
            }
            let interfaces = try InterfaceTable.read()
            return assemble(msk: msk, tcp: tcp, interfaces: interfaces)
        }
    }

    /// Every MPTCP listener of `namespace` (the sockets an MP_JOIN can reach), ordered by port.
    public static func listeners(namespace: NetworkNamespace = .current) throws(MPTCPError) -> [Listener] {
        try namespace.perform { () throws(MPTCPError) -> [Listener] in
            let sock = try NetlinkSocket(protocol: NL.protoSockDiag)
            var result: [Listener] = []
            for family in [UInt8(2), UInt8(10)] {
                for s in try dump(sock, family: family, mptcp: true, states: 1 << UInt32(tcpListen)) where s.state == tcpListen {
                    result.append(Listener(address: s.localAddress, port: s.localPort, family: s.family == 2 ? .ipv4 : .ipv6,
                                           v6only: s.v6only, boundInterface: s.boundInterface))
                }
            }
            return result.sorted { ($0.port, $0.address) < ($1.port, $1.address) }
        }
    }

    /// One socket of a sock_diag reply (`struct inet_diag_msg` + attributes).
    struct DiagSocket {
        var family: UInt8
        var state: UInt8
        var localPort: UInt16
        var remotePort: UInt16
        var localAddress: IPAddress
        var remoteAddress: IPAddress
        var boundInterface: Int32
        var mptcpInfo: MPTCPInfo?
        var tcpInfo: TCPInfo?
        var subflowToken: UInt32?
        var subflowFlags: UInt32 = 0
        var localID: UInt8 = 0
        var remoteID: UInt8 = 0
        var v6only = false

        /// In an MPTCP-protocol dump INET_DIAG_INFO is `struct mptcp_info`; in a TCP dump, `tcp_info`.
        init(message m: NetlinkMessage, mptcp: Bool) throws(DecodeError) {
            let p = m.payload
            guard p.count >= 72 else { throw DecodeError("inet_diag_msg of \(p.count) bytes is truncated") }
            family = p[0]
            state = p[1]
            localPort = UInt16(p[4]) << 8 | UInt16(p[5])
            remotePort = UInt16(p[6]) << 8 | UInt16(p[7])
            let size = family == 2 ? 4 : 16
            guard let local = IPAddress(bytes: Array(p[8..<(8 + size)])),
                  let remote = IPAddress(bytes: Array(p[24..<(24 + size)])) else {
                throw DecodeError("inet_diag_msg has an unknown family \(family)")
            }
            localAddress = local.unmapped
            remoteAddress = remote.unmapped
            boundInterface = Int32(bitPattern: readLE32(p, 40))
            for a in try parseAttributes(p[72...]) {
                switch a.type {
                case RT.inetDiagSKV6Only:
                    v6only = try a.u8("v6only") != 0
                case RT.inetDiagInfo where mptcp:
                    mptcpInfo = try MPTCPInfo(bytes: a.value)
                case RT.inetDiagInfo:
                    tcpInfo = try TCPInfo(bytes: a.value)
                case RT.inetDiagULPInfo:
                    let ulp = try a.nested()
                    guard ulp.first(where: { $0.type == RT.inetULPInfoName })?.string() == "mptcp",
                          let info = ulp.first(where: { $0.type == RT.inetULPInfoMPTCP }) else { continue }
                    for s in try info.nested() {
                        switch s.type {
                        case SubflowDiagAttr.tokenLocal: subflowToken = try s.u32("subflow local token")
                        case SubflowDiagAttr.flags: subflowFlags = try s.u32("subflow flags")
                        case SubflowDiagAttr.idLocal: localID = try s.u8("subflow local id")
                        case SubflowDiagAttr.idRemote: remoteID = try s.u8("subflow remote id")
                        default: continue
                        }
                    }
                default: continue
                }
            }
        }
    }

    static func dump(_ sock: NetlinkSocket, family: UInt8, mptcp: Bool, states: UInt32 = 0xffff_ffff) throws(MPTCPError) -> [DiagSocket] {
        var sockets: [DiagSocket] = []
        try forEachSocket(sock, family: family, mptcp: mptcp, states: states) { sockets.append($0) }
        return sockets
    }

    /// The sock_diag funnel: dumps the `family` sockets of MPTCP (the MPTCP-level
    /// sockets) or of TCP (subflows and plain TCP) in `states` (a bit per state),
    /// handing each to `body` as it is decoded, so a caller that only sums
    /// figures never holds the table.
    static func forEachSocket(_ sock: NetlinkSocket, family: UInt8, mptcp: Bool, states: UInt32 = 0xffff_ffff,
                              _ body: (DiagSocket) throws(MPTCPError) -> Void) throws(MPTCPError) {
        // struct inet_diag_req_v2: family, protocol, ext, pad, states, inet_diag_sockid (48 bytes)
        var req: [UInt8] = [family, mptcp ? UInt8(RT.ipprotoMPTCP & 0xff) : RT.ipprotoTCP, 1 << (UInt8(RT.inetDiagInfo) - 1), 0]
        req += le32(states)
        req += [UInt8](repeating: 0, count: 48)
        if mptcp {
            var w = AttributeWriter()
            w.putU32(RT.inetDiagReqProtocol, RT.ipprotoMPTCP)
            req += w.bytes
        }
        let what = mptcp ? "MPTCP" : "TCP"
        let op = "list \(what) sockets"
        try sock.transact(type: Int32(RT.sockDiagByFamily), flags: NL.fDump, genlCommand: nil, payload: req, operation: op) {
            m throws(MPTCPError) in
            guard m.type == RT.sockDiagByFamily else { return }
            try body(try decode(op) { () throws(DecodeError) in try DiagSocket(message: m, mptcp: mptcp) })
        }
    }

    /// Joins MPTCP sockets and TCP subflows by token (pure, unit-tested).
    static func assemble(msk: [DiagSocket], tcp: [DiagSocket], interfaces: InterfaceTable) -> [Connection] {
        let listenPorts = Set(msk.filter { $0.state == tcpListen }.map(\.localPort))
        var byToken: [UInt32: [Subflow]] = [:]
        for t in tcp {
            guard let token = t.subflowToken, t.state != tcpListen else { continue }
            let index = t.boundInterface != 0 ? t.boundInterface : (interfaces.interface(holding: t.localAddress) ?? 0)
            byToken[token, default: []].append(Subflow(
                localAddress: t.localAddress, localPort: t.localPort,
                remoteAddress: t.remoteAddress, remotePort: t.remotePort,
                backupLocal: t.subflowFlags & SubflowDiagFlag.backupLocal != 0,
                backupRemote: t.subflowFlags & SubflowDiagFlag.backupRemote != 0,
                localID: t.localID, remoteID: t.remoteID, interfaceIndex: index, state: TCPState(rawValue: t.state), token: token,
                tcpInfo: t.tcpInfo))
        }
        var seen = Set<UInt32>()
        var result: [Connection] = []
        for s in msk where s.state != tcpListen {
            guard let info = s.mptcpInfo, seen.insert(info.token).inserted else { continue }
            let subflows = (byToken[info.token] ?? []).sorted { ($0.localID, $0.localPort) < ($1.localID, $1.localPort) }
            result.append(Connection(
                token: info.token, side: listenPorts.contains(s.localPort) ? .server : .client,
                localAddress: s.localAddress, localPort: s.localPort,
                remoteAddress: s.remoteAddress, remotePort: s.remotePort,
                state: TCPState(rawValue: s.state), info: info, subflows: subflows))
        }
        return result.sorted { $0.token < $1.token }
    }
}
