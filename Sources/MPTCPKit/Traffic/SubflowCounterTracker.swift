/// Where subflows run, as the live views add them up: the interface a subflow
/// is bound to (or that holds its local address) and its address family.
public struct PathTrafficKey: Hashable, Sendable, Comparable {
    /// `Subflow.interfaceIndex`; 0 when the kernel did not say.
    public var interfaceIndex: Int32
    public var isIPv4: Bool

    public init(interfaceIndex: Int32, isIPv4: Bool) {
        self.interfaceIndex = interfaceIndex
        self.isIPv4 = isIPv4
    }

    /// The path `subflow` runs on: the one mapping every per-path view uses.
    public init(_ subflow: Subflow) {
        self.init(interfaceIndex: subflow.interfaceIndex, isIPv4: subflow.localAddress.isIPv4)
    }

    public static func < (a: PathTrafficKey, b: PathTrafficKey) -> Bool {
        (a.interfaceIndex, a.isIPv4 ? 0 : 1) < (b.interfaceIndex, b.isIPv4 ? 0 : 1)
    }
}

/// The kernel's cumulative byte and retransmission counters of `tcp_info`
/// (`tcpi_bytes_sent`, `tcpi_bytes_acked`, `tcpi_bytes_received`,
/// `tcpi_total_retrans`), for one subflow or added up over a path.
public struct TrafficCounters: Hashable, Sendable {
    /// Bytes sent, retransmissions included.
    public var bytesSent: UInt64 = 0
    /// Bytes the peer acknowledged: what this host delivered.
    public var bytesAcked: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    /// Segments retransmitted.
    public var retransmissions: UInt64 = 0

    public init(bytesSent: UInt64 = 0, bytesAcked: UInt64 = 0, bytesReceived: UInt64 = 0, retransmissions: UInt64 = 0) {
        self.bytesSent = bytesSent
        self.bytesAcked = bytesAcked
        self.bytesReceived = bytesReceived
        self.retransmissions = retransmissions
    }

    /// A subflow's counters, or nil when the dump carried no `tcp_info`.
    public init?(_ info: TCPInfo?) {
        guard let info else { return nil }
        self.init(bytesSent: info.bytesSent ?? 0, bytesAcked: info.bytesAcked ?? 0,
                  bytesReceived: info.bytesReceived ?? 0, retransmissions: UInt64(info.totalRetransmissions ?? 0))
    }

    public static func + (a: TrafficCounters, b: TrafficCounters) -> TrafficCounters {
        TrafficCounters(bytesSent: a.bytesSent &+ b.bytesSent, bytesAcked: a.bytesAcked &+ b.bytesAcked,
                        bytesReceived: a.bytesReceived &+ b.bytesReceived,
                        retransmissions: a.retransmissions &+ b.retransmissions)
    }

    /// What grew from `earlier` to `self`; nil when any counter went back,
    /// which only a different socket under the same identity can do.
    func growth(since earlier: TrafficCounters) -> TrafficCounters? {
        guard bytesSent >= earlier.bytesSent, bytesAcked >= earlier.bytesAcked,
              bytesReceived >= earlier.bytesReceived, retransmissions >= earlier.retransmissions else { return nil }
        return TrafficCounters(bytesSent: bytesSent - earlier.bytesSent, bytesAcked: bytesAcked - earlier.bytesAcked,
                               bytesReceived: bytesReceived - earlier.bytesReceived,
                               retransmissions: retransmissions - earlier.retransmissions)
    }
}

/// Turns successive connection-table readings into what each path carried
/// between them, from the kernel's own byte counters (pure, unit-tested). It is
/// the one place `mptcpctl top`'s rates and the exporter's per-path counters
/// come from.
///
/// A subflow is followed by its connection's token and its two ends. One first
/// seen counts whole (everything it carried happened on its path); one that
/// vanished between readings takes what it carried since the last one with it
/// (the kernel keeps no counters of closed sockets). It keeps only the subflows
/// of the latest reading.
public struct SubflowCounterTracker: Sendable {
    struct Identity: Hashable, Sendable {
        var token: UInt32
        var localAddress: IPAddress
        var localPort: UInt16
        var remoteAddress: IPAddress
        var remotePort: UInt16
    }

    private var last: [Identity: TrafficCounters] = [:]

    public init() {}

    /// How many subflows the latest reading had with counters.
    public var subflowCount: Int { last.count }

    /// Feeds one reading; returns, per path, what its subflows carried since
    /// the previous reading (paths that carried nothing are absent).
    public mutating func advance(_ connections: [Connection]) -> [PathTrafficKey: TrafficCounters] {
        var now: [Identity: TrafficCounters] = [:]
        var carried: [PathTrafficKey: TrafficCounters] = [:]
        for connection in connections {
            for subflow in connection.subflows {
                guard let counters = TrafficCounters(subflow.tcpInfo) else { continue }
                let identity = Identity(token: subflow.token, localAddress: subflow.localAddress,
                                        localPort: subflow.localPort, remoteAddress: subflow.remoteAddress,
                                        remotePort: subflow.remotePort)
                now[identity] = counters
                let growth = last[identity].flatMap { counters.growth(since: $0) } ?? counters
                guard growth != TrafficCounters() else { continue }
                let key = PathTrafficKey(subflow)
                carried[key] = (carried[key] ?? TrafficCounters()) + growth
            }
        }
        last = now
        return carried
    }
}
