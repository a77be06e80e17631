import ArgumentParser
import MPTCPAPI
import MPTCPKit
#if canImport(Glibc)
import Glibc
#endif

struct MonitorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Print path-manager events as they happen, one line each, until interrupted.",
        discussion: """
            With mptcpctld running, the events come through it: the kernel's, and also interface changes, \
            what the daemon did and why, resyncs and reloads (--kind chooses). Without it, or with --kernel, \
            they are read from the kernel directly.
            """
    )

    static let kinds = EventRecord.Kind.allCases.map(\.rawValue)

    @OptionGroup var global: GlobalOptions
    @Option(parsing: .unconditional, help: "Exit after N events (1 or more).", transform: NumberArgument.count) var count: Int?
    @Option(name: .customLong("kind"), parsing: .upToNextOption,
            help: ArgumentHelp("Through the daemon: only these kinds (kernel, interface, action, resync, policy, lost, hook; default all).",
                               valueName: "KIND"),
            completion: .list(["kernel", "interface", "action", "resync", "policy", "lost", "hook", "health"]))
    var kinds: [String] = []
    @Flag(help: "Read the kernel's events directly, even when mptcpctld runs.") var kernel = false

    func validate() throws {
        for k in kinds.flatMap({ $0.split(separator: ",").map(String.init) }) where !Self.kinds.contains(k) {
            throw ValidationError("--kind: \"\(k)\" is not one of \(Self.kinds.joined(separator: ", "))")
        }
        if kernel && !kinds.isEmpty { throw ValidationError("--kind chooses among the daemon's events: not with --kernel") }
    }

    func run() throws {
        let ns = try global.namespace()
        if !kernel {
            if let daemon = try DaemonConnection.ifRunning(try global.socketPath) {
                return try throughDaemon(daemon)
            }
            if !kinds.isEmpty {
                throw CommandFailure("--kind needs mptcpctld: no daemon answers on \(try global.socketPath)")
            }
            Output.note("no mptcpctld answers on \(try global.socketPath); the kernel's events only")
        }
        let subscription = try EventSubscription(namespace: ns)
        unblockStopSignals()
        var interfaces = try? InterfaceTable.read(namespace: ns)
        var printed = 0
        while count.map({ printed < $0 }) ?? true {
            let notices = try subscription.next()
            // Read now: the time each of these was observed.
            let time = EventRecord.now()
            for notice in notices {
                var record: EventRecord
                switch notice {
                case .event(let event):
                    if let index = event.interfaceIndex, index != 0, interfaces?.names[index] == nil {
                        interfaces = try? InterfaceTable.read(namespace: ns)
                    }
                    record = EventRecord(event, time: time) { interfaces?.names[$0] }
                case .eventsLost:
                    record = .kernelEventsLost(
                        message: "the kernel dropped MPTCP events (receive buffer overrun); re-read state with 'mptcpctl connections'",
                        time: time)
                case .malformed(let why):
                    record = .malformedEvent(why, time: time)
                }
                record.seq = Int64(printed + 1)
                show(record)
                printed += 1
                if let count, printed >= count { return }
            }
        }
    }
}

extension MonitorCommand {
    /// Every line is flushed as it is written, so an interrupt loses nothing.
    /// A parent (a hook runner, a test harness) may have started us with these
    /// signals blocked; they are unblocked so an interrupt always ends the monitor.
    private func unblockStopSignals() {
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        for sig in [SIGINT, SIGTERM] {
            sigaddset(&stopSignals, sig)
            signal(sig) { _ in _exit(0) }
        }
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
    }

    /// `subscribe`, then one line (or JSON object) per event.
    private func throughDaemon(_ daemon: DaemonConnection) throws {
        unblockStopSignals()
        // Checked by `validate`: every name is a kind.
        let chosen = kinds.flatMap { $0.split(separator: ",").compactMap { EventRecord.Kind(rawValue: String($0)) } }
        _ = try daemon.result(ControlMethods.Subscribe.self, SubscribeParams(kinds: chosen.isEmpty ? nil : chosen))
        var printed = 0
        while count.map({ printed < $0 }) ?? true {
            let (method, params) = try daemon.nextNotification()
            switch try ControlNotification(method: method, params: params) {
            case .event(let record)?:
                show(record)
            case .eventsMissed(let missed, _)?:
                show(.eventsMissed(missed, message: "this monitor did not keep up; 'mptcpctl connections' shows the state",
                                   time: EventRecord.now()))
            case nil:
                continue
            }
            printed += 1
        }
    }

    /// One event: its JSON object with `--json`, else its line; the same schema
    /// whether it came from the kernel or through the daemon.
    private func show(_ record: EventRecord) {
        Output.line(record.monitorLine(json: global.json))
    }
}
