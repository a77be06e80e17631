import ArgumentParser
import MPTCPKit
#if canImport(Glibc)
import Glibc
#endif

struct MonitorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Print path-manager events as they happen, one line each, until interrupted."
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Exit after N events.") var count: Int?

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
    }

    func run() throws {
        let ns = try global.namespace()
        let subscription = try EventSubscription(namespace: ns)
        // Every line is flushed as it is written, so an interrupt loses nothing.
        // A parent (a hook runner, a test harness) may have started us with these
        // signals blocked; unblock them so an interrupt always ends the monitor.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        for sig in [SIGINT, SIGTERM] {
            sigaddset(&stopSignals, sig)
            signal(sig) { _ in _exit(0) }
        }
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
        var interfaces = try? InterfaceTable.read(namespace: ns)
        var printed = 0
        while count.map({ printed < $0 }) ?? true {
            for notice in try subscription.next() {
                let record: EventJSON
                switch notice {
                case .event(let event):
                    if let index = event.interfaceIndex, index != 0, interfaces?.names[index] == nil {
                        interfaces = try? InterfaceTable.read(namespace: ns)
                    }
                    record = EventJSON(event, interfaces: interfaces)
                case .eventsLost:
                    record = EventJSON(type: "events_lost",
                                       message: "the kernel dropped events (receive buffer overrun); re-read state with 'mptcpctl connections'")
                case .malformed(let why):
                    record = EventJSON(type: "malformed", message: why)
                }
                if global.json { try Output.json(record) } else { Output.line(record.text) }
                printed += 1
                if let count, printed >= count { return }
            }
        }
    }
}

struct ConnectionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connections",
        abstract: "List MPTCP connections with their subflows."
    )

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let ns = try global.namespace()
        let connections = try ConnectionTable.read(namespace: ns)
        let interfaces = try InterfaceTable.read(namespace: ns)
        // The kernel's view, with the policy each connection is managed under when
        // the daemon answers.
        var policies: [String: String] = [:]
        if let daemon = try DaemonConnection.ifRunning(global.socketPath) {
            for entry in try daemon.result("connections").arrayValue ?? [] {
                if let token = entry["token"]?.stringValue, let policy = entry["policy"]?.stringValue { policies[token] = policy }
            }
        } else {
            Output.error("mptcpctl: note: no mptcpctld answers on \(global.socketPath); the kernel's view, without policies")
        }
        if global.json {
            try Output.json(connections.map { c in
                var json = ConnectionJSON(c, interfaces: interfaces)
                json.policy = policies[json.token]
                return json
            })
            return
        }
        var rows: [[String]] = []
        for c in connections {
            let policy = policies[formatToken(c.token)].map { ", policy " + $0 } ?? ""
            rows.append([formatToken(c.token), c.side.rawValue,
                         AddressAndPort(address: c.localAddress, port: c.localPort).description,
                         AddressAndPort(address: c.remoteAddress, port: c.remotePort).description,
                         "", "", String(c.subflows.count) + " subflow" + (c.subflows.count == 1 ? "" : "s") + policy])
            for s in c.subflows {
                rows.append(["", "",
                             AddressAndPort(address: s.localAddress, port: s.localPort).description,
                             AddressAndPort(address: s.remoteAddress, port: s.remotePort).description,
                             "\(s.localID)/\(s.remoteID)",
                             s.interfaceIndex == 0 ? "-" : interfaceName(s.interfaceIndex, interfaces),
                             s.backup ? "backup" : "active"])
            }
        }
        Output.table(["TOKEN", "SIDE", "LOCAL", "REMOTE", "IDS", "INTERFACE", "STATUS"], rows)
    }
}
