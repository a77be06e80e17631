/// One narrow read of the connection table, for a caller that judges paths
/// (the daemon's health thread, several times a second): per local address of
/// interest, the figures of the MPTCP subflows leaving from it; whether any
/// subflow at all is moving data; and a few remote peers of the connections
/// this host opened. `ConnectionTable.readTraffic` builds it while streaming
/// the sock_diag dump, without holding the table.
public struct TrafficReading: Hashable, Sendable {
    /// The subflows' figures by local address, only for the addresses asked
    /// for and only those with at least one subflow.
    public var byAddress: [IPAddress: AddressTraffic]
    /// Whether any subflow of any MPTCP connection (on any address) is
    /// moving data (`isBusy(_:)`).
    public var isBusy: Bool
    /// The remote addresses of client-side connections (this host opened
    /// them), each once, in token order; per family, the first
    /// `peersPerFamily` of what the whole table would give.
    public var peers: [IPAddress]

    /// A reading of these figures (fixtures, or sums made elsewhere).
    public init(byAddress: [IPAddress: AddressTraffic], isBusy: Bool, peers: [IPAddress]) {
        self.byAddress = byAddress
        self.isBusy = isBusy
        self.peers = peers
    }

    /// The same reading from a table already read in full (`ConnectionTable.read`):
    /// the reference the narrow read agrees with.
    public init(connections: [Connection], addresses: Set<IPAddress>, peersPerFamily: Int) {
        var tally = TrafficTally(addresses: addresses, peersPerFamily: peersPerFamily)
        for c in connections {
            tally.connection(token: c.token, isClient: c.side == .client, remote: c.remoteAddress,
                             inFlight: tally.inFlight(c.info))
        }
        for c in connections {
            for s in c.subflows { tally.subflow(token: s.token, state: s.state, localAddress: s.localAddress, tcpInfo: s.tcpInfo) }
        }
        self = tally.reading
    }

    /// Whether a subflow is moving data: unacknowledged data in flight, or
    /// data sent or received within the last second.
    public static func isBusy(_ info: TCPInfo) -> Bool {
        info.hasUnackedData || (info.lastDataSentMilliseconds ?? .max) < 1000 || (info.lastDataReceivedMilliseconds ?? .max) < 1000
    }

    /// Whether a connection has data in flight, by its `mptcp_info`: data of
    /// ours not yet acknowledged at the MPTCP level (`write_seq` past
    /// `snd_una`), or data sent or received within the last second (the peer
    /// may have more in flight; this host only sees what arrived). A kernel
    /// whose `mptcp_info` is too short for these fields (before 6.10 for the
    /// times) answers by what it has.
    public static func isInFlight(_ info: MPTCPInfo) -> Bool {
        if let write = info.writeSequence, let una = info.sendUnacknowledged, write != una { return true }
        return (info.lastDataSentMilliseconds ?? .max) < 1000 || (info.lastDataReceivedMilliseconds ?? .max) < 1000
    }

    /// The figures of several addresses (a path's) added up; nil when none of them has a subflow.
    public func traffic<S: Sequence>(of addresses: S) -> AddressTraffic? where S.Element == IPAddress {
        var sum = AddressTraffic()
        for address in Set(addresses) {
            if let t = byAddress[address] { sum.add(t) }
        }
        return sum.subflows > 0 ? sum : nil
    }
}

extension ConnectionTable {
    /// The MPTCP-level sockets' states but LISTEN.
    static let connectionStates: UInt32 = 0xffff_ffff & ~(1 << UInt32(tcpListen))

    /// Reads `namespace`'s connection table narrowly: the subflows leaving from
    /// `addresses` summed per address, whether anything moves, and at most
    /// `peersPerFamily` peers of each family (so at most twice that in all).
    /// It agrees with `TrafficReading(connections: ConnectionTable.read(...))`
    /// but streams the dumps, keeping only the listening ports and the tokens
    /// of the live connections while it runs: a host with tens of thousands of
    /// subflows costs it no more memory than an idle one. Three dumps per
    /// family: the MPTCP listeners first (a connection is server-side when its
    /// local port is one of theirs, as in `read`), then the MPTCP connections,
    /// then the TCP subflows, counted only when their connection was listed.
    ///
    /// With `progress`, a connection has data in flight only while it moves
    /// (`ConnectionProgress`): the reading updates it, and leaves it as it was
    /// when the read fails.
    public static func readTraffic(namespace: NetworkNamespace = .current, addresses: Set<IPAddress>,
                                   peersPerFamily: Int, progress: inout ConnectionProgress) throws(MPTCPError) -> TrafficReading {
        let (reading, updated) = try readTraffic(namespace: namespace, addresses: addresses, peersPerFamily: peersPerFamily,
                                                 tracking: progress)
        if var updated {
            updated.endReading()
            progress = updated
        }
        return reading
    }

    public static func readTraffic(namespace: NetworkNamespace = .current, addresses: Set<IPAddress>,
                                   peersPerFamily: Int) throws(MPTCPError) -> TrafficReading {
        try readTraffic(namespace: namespace, addresses: addresses, peersPerFamily: peersPerFamily, tracking: nil).0
    }

    private static func readTraffic(namespace: NetworkNamespace, addresses: Set<IPAddress>, peersPerFamily: Int,
                                    tracking: ConnectionProgress?) throws(MPTCPError) -> (TrafficReading, ConnectionProgress?) {
        try namespace.perform { () throws(MPTCPError) -> (TrafficReading, ConnectionProgress?) in
            let sock = try NetlinkSocket(protocol: NL.protoSockDiag)
            var tally = TrafficTally(addresses: addresses, peersPerFamily: peersPerFamily, progress: tracking)
            let families = [UInt8(2), UInt8(10)]
            for family in families {
                try forEachSocket(sock, family: family, mptcp: true, states: 1 << UInt32(tcpListen)) { tally.listener($0) }
            }
            for family in families {
                try forEachSocket(sock, family: family, mptcp: true, states: connectionStates) { tally.connection($0) }
            }
            for family in families {
                try forEachSocket(sock, family: family, mptcp: false, states: subflowStates) { tally.subflow($0) }
            }
            return (tally.reading, tally.progress)
        }
    }
}
