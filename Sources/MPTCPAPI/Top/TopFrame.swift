import MPTCPKit

/// One frame of `mptcpctl top`: what each path (interface × family) and each
/// connection carried between two connection-table readings, as rates, with the
/// path's subflows, RTT, backup mode, link and (from mptcpctld) health.
/// Pure data: `TopFrameBuilder` makes it, `TopFrame+Text` and `TopFrame+JSON`
/// present it.
public struct TopFrame: Hashable, Sendable {
    /// One path's row.
    public struct Path: Hashable, Sendable {
        public var key: PathTrafficKey
        /// The interface's name (`?` when the kernel named none).
        public var interface: String
        /// `ipv4` or `ipv6`, as mptcpctld's `paths` names families.
        public var family: String { key.isIPv4 ? "ipv4" : "ipv6" }
        /// Whether the interface is up and has a working link; nil when it is gone.
        public var linkUp: Bool?
        /// mptcpctld's verdict (`up`, `degraded`, `down`, `unknown`); nil without
        /// the daemon or when it does not judge this path.
        public var health: String?
        /// Established subflows on the path now.
        public var subflows: Int
        /// Whether the established subflows are all backup; nil when there are none.
        public var backup: Bool?
        /// Mean smoothed RTT of the established subflows, in milliseconds.
        public var rttMilliseconds: Double?
        /// What the path carried in this frame's interval (deltas of the kernel's counters).
        public var carried: TrafficCounters
        /// Bytes per second acknowledged by the peers (bytesAcked delta / elapsed).
        public var sentPerSecond: Double
        /// Bytes per second received.
        public var receivedPerSecond: Double
        /// Sent plus received rate of the latest frames, oldest first (this one last).
        public var history: [Double]

        /// `active`, `backup`, or `-` without established subflows.
        public var mode: String { backup.map { $0 ? "backup" : "active" } ?? "-" }
    }

    /// One connection's row.
    public struct ConnectionRow: Hashable, Sendable {
        public var token: UInt32
        public var local: AddressAndPort
        public var remote: AddressAndPort
        /// Established subflows.
        public var subflows: Int
        public var carried: TrafficCounters
        public var sentPerSecond: Double
        public var receivedPerSecond: Double
        /// The daemon's policy for it, when the daemon answers and manages it.
        public var policy: String?
        public var ratePerSecond: Double { sentPerSecond + receivedPerSecond }
    }

    /// Seconds since 1970 when the frame's second reading was taken.
    public var time: Double
    /// Measured seconds between the two readings (monotonic clock).
    public var elapsed: Double
    /// Whether mptcpctld answered (health and policies are its).
    public var daemon: Bool
    /// Every path seen since top started, in interface-index order.
    public var paths: [Path]
    /// Every connection of the latest reading, unsorted.
    public var connections: [ConnectionRow]

    /// The paths added up.
    public var total: (sentPerSecond: Double, receivedPerSecond: Double, carried: TrafficCounters) {
        paths.reduce((0, 0, TrafficCounters())) { ($0.0 + $1.sentPerSecond, $0.1 + $1.receivedPerSecond, $0.2 + $1.carried) }
    }

    /// Established subflows over all paths.
    public var subflowCount: Int { paths.reduce(0) { $0 + $1.subflows } }
}

/// How `top` orders connections; the `s` key steps through them.
public enum TopSortKey: String, CaseIterable, Sendable {
    /// Sent plus received.
    case rate
    case sent
    case received
    case retransmits

    /// The next key, cycling.
    public var next: TopSortKey {
        let all = Self.allCases
        let at = all.firstIndex(of: self) ?? 0
        return all[(at + 1) % all.count]
    }

    /// The connections, largest first; ties by token, so rows do not jump.
    public func sorted(_ rows: [TopFrame.ConnectionRow]) -> [TopFrame.ConnectionRow] {
        func value(_ r: TopFrame.ConnectionRow) -> Double {
            switch self {
            case .rate: r.ratePerSecond
            case .sent: r.sentPerSecond
            case .received: r.receivedPerSecond
            case .retransmits: Double(r.carried.retransmissions)
            }
        }
        return rows.sorted { (value($0), $1.token) > (value($1), $0.token) }
    }
}
