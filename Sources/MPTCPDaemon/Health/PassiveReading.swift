import MPTCPKit
import MPTCPPolicy

/// One read of the connection table (sock_diag), as health evidence: the
/// subflows' figures by local address (only the probed paths' addresses), and
/// the peers of the connections this host opened. Read narrowly
/// (`ConnectionTable.readTraffic`): the health thread reads it every 200 ms
/// while there is traffic, and holding the whole table each time kept the
/// peak of the largest read in its malloc arena.
struct PassiveReading: Sendable {
    var traffic: TrafficReading

    init(_ traffic: TrafficReading) { self.traffic = traffic }

    /// Reads `namespace`'s table for the subflows leaving from `addresses`
    /// and the `peers` target: at most `ProbePlan.peerLimit` peers per family,
    /// all a path of that family probes. A connection has data in flight only
    /// while it moves (`progress`, updated).
    static func read(namespace: NetworkNamespace, addresses: Set<IPAddress>,
                     progress: inout ConnectionProgress) throws(MPTCPError) -> PassiveReading {
        PassiveReading(try ConnectionTable.readTraffic(namespace: namespace, addresses: addresses, peersPerFamily: ProbePlan.peerLimit,
                                                       progress: &progress))
    }

    /// Remote addresses of client-side connections, in table order, each once.
    var peers: [IPAddress] { traffic.peers }

    /// Whether anything is moving: a subflow with data unacknowledged, or one
    /// that sent or received within the last second (`TrafficReading.isBusy`).
    /// Then the table is read every `busyInterval` rather than every `idleInterval`.
    var isBusy: Bool { traffic.isBusy }

    static let busyInterval: Duration = .milliseconds(200)
    static let idleInterval: Duration = .seconds(1)

    /// The sample of `path`'s subflows (those whose local address is one of
    /// the path's); nil when it has none. Bytes acked and bytes received are
    /// kept apart: `PathHealth.passive` takes acked growth as proof of life at
    /// once, received growth only once it lasted (a download).
    func sample(for path: ProbePath) -> PassiveSample? {
        guard let t = traffic.traffic(of: path.addresses) else { return nil }
        return PassiveSample(
            subflows: t.subflows, established: t.established, bytesAcked: t.bytesAcked, bytesReceived: t.bytesReceived,
            maxBackoff: Int(t.maxBackoff), hasUnackedData: t.hasUnackedData,
            lastAckAge: t.lastAckAgeMilliseconds.map { Duration.milliseconds(Int64($0)) },
            connectionsInFlight: t.carriesConnectionInFlight)
    }
}

extension PassiveReading {
    /// A reading of these subflows (every local address kept) and peers, as
    /// the narrow read would sum them (the unit tests' fixtures); the
    /// connections of tokens in `inFlight` have data in flight.
    init(subflows: [Subflow], peers: [IPAddress], inFlight: Set<UInt32> = []) {
        var byAddress: [IPAddress: AddressTraffic] = [:]
        for s in subflows {
            byAddress[s.localAddress, default: AddressTraffic()].add(state: s.state, tcpInfo: s.tcpInfo,
                                                                     connectionInFlight: inFlight.contains(s.token))
        }
        let busy = subflows.contains { s in s.tcpInfo.map { TrafficReading.isBusy($0) } ?? false }
        self.init(TrafficReading(byAddress: byAddress, isBusy: busy, peers: peers))
    }
}
