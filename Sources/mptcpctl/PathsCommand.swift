import ArgumentParser
import FoundationEssentials
import MPTCPAPI

/// `mptcpctl paths`: the running daemon's verdict on each path (interface ×
/// family): state, smoothed probe RTT, loss, probes, targets, and the last
/// transition with its evidence. Needs mptcpctld.
struct PathsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paths",
        abstract: "Show the health of each path (interface × family) as mptcpctld judges it."
    )

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let answer = try DaemonConnection(path: try global.socketPath).result(ControlMethods.Paths.self)
        if global.json {
            Output.line(RPCWire.text(answer.json))
            return
        }
        let paths = answer.record
        guard !paths.isEmpty else {
            Output.line("no path is judged (no used address on an interface with probing on)")
            return
        }
        Output.table(["PATH", "STATE", "RTT", "LOSS", "SENT", "LOST", "SOURCE", "TARGETS"], paths.map { p in
            ["\(p.interface)/\(p.family)", p.state, p.rttMilliseconds.map { "\($0) ms" } ?? "-",
             p.lossPercent.map { "\($0) %" } ?? "-", String(p.probesSent), String(p.probesLost), p.source,
             p.targets.isEmpty ? "-" : p.targets.map { $0.target + ($0.answered ? "" : " (never answered)") }.joined(separator: ", ")]
        })
        for p in paths {
            guard let t = p.lastTransition else { continue }
            let at = Date(timeIntervalSince1970: t.at).formatted(.iso8601)
            Output.line("\(p.interface)/\(p.family): \(t.from) -> \(t.to) at \(at): \(t.evidence)")
        }
        for p in paths where p.withdrawalWaits {
            Output.line("\(p.interface)/\(p.family): withdrawal waits while a connection on it has data in flight "
                + "(closing its subflows now would make the kernel re-send it)")
        }
    }
}
