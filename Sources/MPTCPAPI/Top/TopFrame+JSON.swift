import MPTCPKit

extension TopFrame {
    /// The frame as one JSON object (`mptcpctl top --json`, one per line; fields
    /// documented in mptcpctl(8)). Rates are bytes per second over `interval_s`;
    /// `*_bytes` and `retransmits` are what the interval carried.
    public func json(connections limit: Int, sort: TopSortKey) -> JSONValue {
        let t = total
        let shown = sort.sorted(connections).prefix(max(0, limit))
        return [
            "time": .number(time), "interval_s": .number(elapsed), "daemon": .bool(daemon),
            "paths": .array(paths.map(\.json)),
            "total": [
                "subflows": .integer(Int64(subflowCount)),
                "sent_bytes_per_s": .number(t.sentPerSecond), "received_bytes_per_s": .number(t.receivedPerSecond),
                "acked_bytes": .integer(Int64(clamping: t.carried.bytesAcked)),
                "received_bytes": .integer(Int64(clamping: t.carried.bytesReceived)),
                "retransmits": .integer(Int64(clamping: t.carried.retransmissions)),
            ],
            "connections": .array(shown.map(\.json)),
        ]
    }
}

extension TopFrame.Path {
    var json: JSONValue {
        [
            "interface": .string(interface), "family": .string(family),
            "link": .string(linkUp.map { $0 ? "up" : "down" } ?? "gone"),
            "health": health.map { .string($0) } ?? .null,
            "subflows": .integer(Int64(subflows)), "mode": .string(mode),
            "rtt_ms": rttMilliseconds.map { .number($0) } ?? .null,
            "sent_bytes_per_s": .number(sentPerSecond), "received_bytes_per_s": .number(receivedPerSecond),
            "acked_bytes": .integer(Int64(clamping: carried.bytesAcked)),
            "sent_bytes": .integer(Int64(clamping: carried.bytesSent)),
            "received_bytes": .integer(Int64(clamping: carried.bytesReceived)),
            "retransmits": .integer(Int64(clamping: carried.retransmissions)),
        ]
    }
}

extension TopFrame.ConnectionRow {
    var json: JSONValue {
        [
            "token": .string(formatToken(token)), "local": .string(local.description), "remote": .string(remote.description),
            "subflows": .integer(Int64(subflows)),
            "sent_bytes_per_s": .number(sentPerSecond), "received_bytes_per_s": .number(receivedPerSecond),
            "acked_bytes": .integer(Int64(clamping: carried.bytesAcked)),
            "received_bytes": .integer(Int64(clamping: carried.bytesReceived)),
            "retransmits": .integer(Int64(clamping: carried.retransmissions)),
            "policy": policy.map { .string($0) } ?? .null,
        ]
    }
}
