import MPTCPKit

/// One reading `top` takes: the kernel's connection table and links, and what
/// mptcpctld said (nil when it does not answer).
public struct TopReading: Sendable {
    public var connections: [Connection]
    public var links: [Link]
    /// mptcpctld's `paths`; nil without the daemon.
    public var health: [PathRecord]?
    /// mptcpctld's policy per connection token.
    public var policies: [UInt32: String]
    /// Monotonic seconds (CLOCK_MONOTONIC): rates divide by differences of these.
    public var monotonic: Double
    /// Seconds since 1970, shown and printed.
    public var wallClock: Double

    public init(connections: [Connection], links: [Link], health: [PathRecord]?, policies: [UInt32: String] = [:],
                monotonic: Double, wallClock: Double) {
        self.connections = connections
        self.links = links
        self.health = health
        self.policies = policies
        self.monotonic = monotonic
        self.wallClock = wallClock
    }
}

/// Turns successive readings into frames: per-path deltas from
/// `SubflowCounterTracker` (the one source of per-path byte deltas), per-connection
/// deltas from one tracker per connection, each divided by the measured time
/// between the readings. The first reading only primes the counters.
/// A path stays listed once seen (so one whose subflows died shows them gone).
public struct TopFrameBuilder: Sendable {
    /// How many rates a path's sparkline keeps.
    public static let historyLength = 60

    private var paths = SubflowCounterTracker()
    private var perConnection: [UInt32: SubflowCounterTracker] = [:]
    private var previous: Double?
    private var seen: Set<PathTrafficKey> = []
    private var history: [PathTrafficKey: [Double]] = [:]

    public init() {}

    /// Feeds a reading; the frame since the previous one, or nil for the first
    /// (or when the clock did not advance).
    public mutating func frame(_ reading: TopReading) -> TopFrame? {
        let carried = paths.advance(reading.connections)
        let byConnection = advanceConnections(reading.connections)
        defer { previous = reading.monotonic }
        guard let previous, reading.monotonic > previous else { return nil }
        let elapsed = reading.monotonic - previous
        var current: [PathTrafficKey: [Subflow]] = [:]
        for connection in reading.connections {
            for subflow in connection.subflows {
                current[PathTrafficKey(subflow), default: []].append(subflow)
            }
        }
        seen.formUnion(current.keys)
        seen.formUnion(carried.keys)
        let linksByIndex = Dictionary(reading.links.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        var healthByPath: [String: String] = [:]
        for record in reading.health ?? [] {
            healthByPath[record.interface + "/" + record.family] = record.state
            if let link = reading.links.first(where: { $0.name == record.interface }) {
                seen.insert(PathTrafficKey(interfaceIndex: link.index, isIPv4: record.family == "ipv4"))
            }
        }
        var rows: [TopFrame.Path] = []
        for key in seen.sorted() {
            let counters = carried[key] ?? TrafficCounters()
            let established = (current[key] ?? []).filter(\.carriesTraffic)
            let link = linksByIndex[key.interfaceIndex]
            var row = TopFrame.Path(
                key: key, interface: link?.name ?? (key.interfaceIndex == 0 ? "?" : "if\(key.interfaceIndex)"),
                linkUp: link?.isUsable, health: nil, subflows: established.count,
                backup: established.isEmpty ? nil : established.allSatisfy(\.backup),
                rttMilliseconds: Self.meanRTT(established), carried: counters,
                sentPerSecond: Double(counters.bytesAcked) / elapsed,
                receivedPerSecond: Double(counters.bytesReceived) / elapsed, history: [])
            row.health = healthByPath[row.interface + "/" + row.family]
            var kept = history[key] ?? []
            kept.append(row.sentPerSecond + row.receivedPerSecond)
            if kept.count > Self.historyLength { kept.removeFirst(kept.count - Self.historyLength) }
            history[key] = kept
            row.history = kept
            rows.append(row)
        }
        let connections = reading.connections.map { c in
            let counters = byConnection[c.token] ?? TrafficCounters()
            return TopFrame.ConnectionRow(
                token: c.token, local: AddressAndPort(address: c.localAddress, port: c.localPort),
                remote: AddressAndPort(address: c.remoteAddress, port: c.remotePort),
                subflows: c.subflows.filter(\.carriesTraffic).count, carried: counters,
                sentPerSecond: Double(counters.bytesAcked) / elapsed,
                receivedPerSecond: Double(counters.bytesReceived) / elapsed, policy: reading.policies[c.token])
        }
        return TopFrame(time: reading.wallClock, elapsed: elapsed, daemon: reading.health != nil, paths: rows,
                        connections: connections)
    }

    /// What each connection carried since the previous reading: its own tracker
    /// fed with it alone, so the rule for new and vanished subflows is the paths'.
    private mutating func advanceConnections(_ connections: [Connection]) -> [UInt32: TrafficCounters] {
        var trackers: [UInt32: SubflowCounterTracker] = [:]
        var carried: [UInt32: TrafficCounters] = [:]
        for connection in connections {
            var tracker = perConnection[connection.token] ?? SubflowCounterTracker()
            let isNew = perConnection[connection.token] == nil && previous == nil
            let growth = tracker.advance([connection]).values.reduce(TrafficCounters(), +)
            trackers[connection.token] = tracker
            if !isNew { carried[connection.token] = growth }
        }
        perConnection = trackers
        return carried
    }

    /// The mean of the subflows' smoothed RTT (`tcpi_rtt`), in milliseconds; nil when none reports one.
    static func meanRTT(_ subflows: [Subflow]) -> Double? {
        let rtts = subflows.compactMap { $0.tcpInfo?.rttMicroseconds }.filter { $0 > 0 }
        guard !rtts.isEmpty else { return nil }
        return Double(rtts.reduce(0) { $0 + UInt64($1) }) / Double(rtts.count) / 1000
    }
}
