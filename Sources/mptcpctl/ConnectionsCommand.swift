import ArgumentParser
import MPTCPAPI
import MPTCPKit

struct ConnectionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connections",
        abstract: "List MPTCP connections with their subflows and their figures.",
        discussion: """
            STATE is each subflow's TCP state (established, syn-sent, fin-wait-1, ...). Only an established \
            subflow carries traffic: it alone is counted and called active (or backup); one still in its \
            handshake, or closing, shows - instead. RTT, ACKED, RECEIVED and RETRANS (current/total) are the \
            kernel's tcp_info figures of each subflow (on a connection's line, its mptcp_info bytes and \
            retransmissions); -v prints every figure as ss -ti does, as key:value words named as in --json.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.customShort("v"), .long], help: "Every figure of each connection (mptcp_info) and subflow (tcp_info).")
    var verbose = false

    func run() throws {
        let ns = try global.namespace()
        let connections = try ConnectionTable.read(namespace: ns)
        let interfaces = try InterfaceTable.read(namespace: ns)
        // The kernel's view, with the policy each connection is managed under when
        // the daemon answers.
        var policies: [String: String] = [:]
        if let daemon = try DaemonConnection.ifRunning(try global.socketPath) {
            for entry in try daemon.result(ControlMethods.Connections.self).record {
                if let policy = entry.policy { policies[formatToken(entry.token)] = policy }
            }
        } else {
            Output.note("no mptcpctld answers on \(try global.socketPath); the kernel's view, without policies")
        }
        let records = connections.map { c in
            ConnectionRecord(c, policy: policies[formatToken(c.token)]) { interfaces.names[$0] }
        }
        if global.json {
            Output.line(RPCWire.text(records.json))
        } else if verbose {
            Output.text(zip(connections, records).map { Self.block($0, $1) }.joined())
        } else {
            Self.table(zip(connections, records))
        }
    }

    /// The default view: a line per connection and one per subflow, with a few key figures.
    static func table(_ pairs: some Sequence<(Connection, ConnectionRecord)>) {
        var rows: [[String]] = []
        for (c, record) in pairs {
            let policy = record.policy.map { ", policy " + $0 } ?? ""
            rows.append([formatToken(c.token), c.side.rawValue, record.local.description, record.remote.description,
                         "", "", c.state.name, "",
                         FigureText.bytes(record.mptcp?.bytesAcked), FigureText.bytes(record.mptcp?.bytesReceived),
                         record.mptcp?.retransmits.map(String.init) ?? "-", Self.summary(c.subflows) + policy])
            for (s, r) in zip(c.subflows, record.subflows) {
                let f = r.figures
                rows.append(["", "", r.local.description, r.remote.description, "\(r.localID)/\(r.remoteID)",
                             r.interface ?? "-", r.state,
                             FigureText.rtt(microseconds: f.rttMicroseconds), FigureText.bytes(f.bytesAcked),
                             FigureText.bytes(f.bytesReceived),
                             FigureText.retransmits(current: f.retransmits, total: f.totalRetransmits),
                             s.carriesTraffic ? (s.backup ? "backup" : "active") : "-"])
            }
        }
        Output.table(["TOKEN", "SIDE", "LOCAL", "REMOTE", "IDS", "INTERFACE", "STATE", "RTT", "ACKED", "RECEIVED", "RETRANS",
                      "STATUS"], rows)
    }

    /// `-v`: a connection, its mptcp_info words, and each subflow with its tcp_info words (as `ss -Mti` prints them).
    static func block(_ c: Connection, _ record: ConnectionRecord) -> String {
        let policy = record.policy.map { ", policy " + $0 } ?? ""
        var text = "\(formatToken(c.token)) \(c.side.rawValue) \(record.local) -> \(record.remote) \(c.state.name), "
            + Self.summary(c.subflows) + policy + "\n"
        if let mptcp = record.mptcp { text += "\tmptcp " + mptcp.words.joined(separator: " ") + "\n" }
        for (s, r) in zip(c.subflows, record.subflows) {
            let status = s.carriesTraffic ? (s.backup ? "backup" : "active") : "-"
            text += "\t\(r.local) -> \(r.remote) ids \(r.localID)/\(r.remoteID) \(r.interface ?? "-") \(r.state) \(status)\n"
            let words = r.figures.words
            if !words.isEmpty { text += "\t\t" + words.joined(separator: " ") + "\n" }
        }
        return text
    }

    /// "2 subflows": those that carry traffic; the others (a join under way, a
    /// closing subflow) are named apart, never counted as paths.
    static func summary(_ subflows: [Subflow]) -> String {
        let working = subflows.filter(\.carriesTraffic).count
        let others = subflows.count - working
        return "\(working) subflow" + (working == 1 ? "" : "s") + (others == 0 ? "" : " (+\(others) not established)")
    }
}
