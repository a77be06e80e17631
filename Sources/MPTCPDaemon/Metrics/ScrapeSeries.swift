import MPTCPAPI
import MPTCPKit

/// The sample lines the exporter renders itself at scrape time (pure,
/// unit-tested), each family's group led by its `# TYPE` line, as the
/// registry writes its own.
enum ScrapeSeries {
    /// The kernel's `MPTcpExt` fields, one family each, values as read, and the
    /// families of the fields `MPTCPKernelCounters.descriptions` does not know
    /// (declared at scrape time with a generic HELP).
    static func kernelCounters(_ counters: MPTCPKernelCounters) -> (lines: [String], undeclared: [MetricFamily]) {
        let known = Set(MPTCPKernelCounters.descriptions.map(\.name))
        var lines: [String] = []
        var undeclared: [MetricFamily] = []
        for field in counters.fields {
            let family = DaemonMetrics.netstatFamily(field.name)
            if !known.contains(field.name) { undeclared.append(family) }
            lines += ["# TYPE \(family.name) \(family.type.rawValue)", DaemonMetrics.sample(family, [], "\(field.value)")]
        }
        return (lines, undeclared)
    }

    /// The `mptcpctld_connection_*` series of the `cap` connections that moved
    /// the most bytes (MPTCP level; their subflows' counters when the kernel gave
    /// no `mptcp_info` bytes); none when `cap` is 0.
    static func connections(_ connections: [Connection], cap: Int) -> [String] {
        guard cap > 0 else { return [] }
        let ranked = connections.map { (connection: $0, bytes: bytesMoved($0)) }
            .sorted { $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.connection.token < $1.connection.token }
            .prefix(cap)
        var out: [String] = []
        for family in DaemonMetrics.connectionFamilies {
            out.append("# TYPE \(family.name) \(family.type.rawValue)")
            for (c, _) in ranked {
                let labels = [formatToken(c.token), AddressAndPort(address: c.remoteAddress, port: c.remotePort).description]
                let value: UInt64
                switch family.name {
                case "mptcpctld_connection_sent_bytes_total": value = c.info.bytesSent ?? subflowTotals(c).bytesSent
                case "mptcpctld_connection_received_bytes_total": value = c.info.bytesReceived ?? subflowTotals(c).bytesReceived
                default: value = UInt64(c.subflows.filter(\.carriesTraffic).count)
                }
                out.append(DaemonMetrics.sample(family, labels, "\(value)"))
            }
        }
        return out
    }

    static func bytesMoved(_ c: Connection) -> UInt64 {
        if let sent = c.info.bytesSent, let received = c.info.bytesReceived { return sent &+ received }
        let t = subflowTotals(c)
        return t.bytesSent &+ t.bytesReceived
    }

    static func subflowTotals(_ c: Connection) -> TrafficCounters {
        c.subflows.compactMap { TrafficCounters($0.tcpInfo) }.reduce(TrafficCounters(), +)
    }
}
