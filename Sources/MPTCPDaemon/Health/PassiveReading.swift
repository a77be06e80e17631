import MPTCPKit
import MPTCPPolicy

/// One read of the connection table (sock_diag), as health evidence: the
/// subflows by local address, and the peers of the connections this host opened.
struct PassiveReading: Sendable {
    var subflows: [Subflow]
    /// Remote addresses of client-side connections, in table order, each once.
    var peers: [IPAddress]

    /// Whether anything is moving: a subflow with data unacknowledged, or one
    /// that sent or received within the last second. Then the table is read
    /// every `busyInterval` rather than every `idleInterval`.
    var isBusy: Bool {
        subflows.contains { s in
            guard let info = s.tcpInfo else { return false }
            return info.hasUnackedData || (info.lastDataSentMilliseconds ?? .max) < 1000
                || (info.lastDataReceivedMilliseconds ?? .max) < 1000
        }
    }

    static let busyInterval: Duration = .milliseconds(200)
    static let idleInterval: Duration = .seconds(1)

    /// The sample of `path`'s subflows (those whose local address is one of
    /// the path's); nil when it has none. Progress counts bytes acked and
    /// bytes received: data arriving on a subflow proves the path carries the
    /// peer's packets, and the peer keeps sending only while our ACKs arrive,
    /// so a download is as much proof of life as an upload.
    func sample(for path: ProbePath) -> PassiveSample? {
        let addresses = Set(path.addresses)
        let mine = subflows.filter { addresses.contains($0.localAddress) }
        guard !mine.isEmpty else { return nil }
        let infos = mine.compactMap(\.tcpInfo)
        let stalled = infos.filter(\.hasUnackedData)
        let ackAge = stalled.compactMap(\.lastAckReceivedMilliseconds).min().map { Duration.milliseconds(Int64($0)) }
        return PassiveSample(
            subflows: mine.count, established: mine.filter(\.carriesTraffic).count,
            bytesAcked: infos.reduce(0) { $0 &+ ($1.bytesAcked ?? 0) &+ ($1.bytesReceived ?? 0) },
            maxBackoff: Int(infos.map(\.backoff).max() ?? 0), hasUnackedData: !stalled.isEmpty, lastAckAge: ackAge)
    }
}

extension PassiveReading {
    init(_ connections: [Connection]) {
        var seen: Set<IPAddress> = []
        self.init(subflows: connections.flatMap(\.subflows),
                  peers: connections.filter { $0.side == .client }.map(\.remoteAddress).filter { seen.insert($0).inserted })
    }
}
