/// The running sums of a narrow connection-table read (pure, unit-tested):
/// fed the listeners first, then the connections, then the subflows, as the
/// dumps stream by, it keeps per socket nothing but the listening ports and
/// the live connections' tokens (both freed with it), and a few peers.
struct TrafficTally {
    let addresses: Set<IPAddress>
    let peersPerFamily: Int
    private var listenPorts: Set<UInt16> = []
    /// The connections listed: a subflow counts only when its connection is
    /// one of them, as `ConnectionTable.assemble` joins them.
    private var tokens: Set<UInt32> = []
    /// Those with data in flight (`TrafficReading.isInFlight`).
    private var inFlight: Set<UInt32> = []
    private var byAddress: [IPAddress: AddressTraffic] = [:]
    private var isBusy = false
    /// Per family, the client-side peers with the least tokens seen so far,
    /// each with its least token; at most `peersPerFamily` each.
    private var peers4: [Peer] = []
    private var peers6: [Peer] = []

    struct Peer {
        var token: UInt32
        var address: IPAddress
    }

    /// When given, a connection has data in flight only while it moves
    /// (`ConnectionProgress`), as of `now`.
    var progress: ConnectionProgress?
    let now: ContinuousClock.Instant

    init(addresses: Set<IPAddress>, peersPerFamily: Int, progress: ConnectionProgress? = nil, now: ContinuousClock.Instant = .now) {
        self.addresses = addresses
        self.peersPerFamily = max(0, peersPerFamily)
        self.progress = progress
        self.now = now
    }

    /// An MPTCP-level socket of a listener dump.
    mutating func listener(_ s: ConnectionTable.DiagSocket) {
        if s.state == ConnectionTable.tcpListen { listenPorts.insert(s.localPort) }
    }

    /// An MPTCP-level socket of a connection dump (after every listener): it is
    /// server-side when its local port is a listener's.
    mutating func connection(_ s: ConnectionTable.DiagSocket) {
        guard s.state != ConnectionTable.tcpListen, let info = s.mptcpInfo else { return }
        connection(token: info.token, isClient: !listenPorts.contains(s.localPort), remote: s.remoteAddress,
                   inFlight: inFlight(info))
    }

    /// Whether connection `info` has data in flight and, with `progress`, moves.
    mutating func inFlight(_ info: MPTCPInfo) -> Bool {
        guard var tracked = progress else { return TrafficReading.isInFlight(info) }
        progress = nil  // `tracked` owns the storage alone: no copy per connection
        let moving = tracked.moving(token: info.token, info: info, at: now)
        progress = tracked
        return TrafficReading.isInFlight(info) && moving
    }

    /// A connection; a token seen before is the same connection (counted once,
    /// as first seen).
    mutating func connection(token: UInt32, isClient: Bool, remote: IPAddress, inFlight: Bool) {
        guard tokens.insert(token).inserted else { return }
        if inFlight { self.inFlight.insert(token) }
        guard isClient else { return }
        let peer = Peer(token: token, address: remote)
        if remote.isIPv4 {
            Self.offer(peer, to: &peers4, limit: peersPerFamily)
        } else {
            Self.offer(peer, to: &peers6, limit: peersPerFamily)
        }
    }

    /// A socket of a TCP dump (after every connection): an MPTCP subflow when it carries the MPTCP ULP info.
    mutating func subflow(_ s: ConnectionTable.DiagSocket) {
        guard s.state != ConnectionTable.tcpListen, let token = s.subflowToken else { return }
        subflow(token: token, state: TCPState(rawValue: s.state), localAddress: s.localAddress, tcpInfo: s.tcpInfo)
    }

    /// A subflow of connection `token`.
    mutating func subflow(token: UInt32, state: TCPState, localAddress: IPAddress, tcpInfo: TCPInfo?) {
        guard tokens.contains(token) else { return }
        if let tcpInfo, !isBusy, TrafficReading.isBusy(tcpInfo) { isBusy = true }
        if addresses.contains(localAddress) {
            byAddress[localAddress, default: AddressTraffic()].add(state: state, tcpInfo: tcpInfo,
                                                                   connectionInFlight: inFlight.contains(token))
        }
    }

    /// What was read: the peers in token order, as a full table sorted by token gives them.
    var reading: TrafficReading {
        TrafficReading(byAddress: byAddress, isBusy: isBusy,
                       peers: (peers4 + peers6).sorted { $0.token < $1.token }.map(\.address))
    }

    /// Keeps the `limit` addresses whose least token is least: the
    /// ones a table sorted by token lists first. Exact whatever the order the
    /// dump gives: an address dropped for a larger token than all kept can
    /// only come back with a smaller one, which is then its least.
    private static func offer(_ peer: Peer, to kept: inout [Peer], limit: Int) {
        if let i = kept.firstIndex(where: { $0.address == peer.address }) {
            kept[i].token = min(kept[i].token, peer.token)
        } else if kept.count < limit {
            kept.append(peer)
        } else if let worst = kept.indices.max(by: { kept[$0].token < kept[$1].token }), peer.token < kept[worst].token {
            kept[worst] = peer
        }
    }
}
