import Foundation
import MPTCPKit

/// The policies the real-host tests run `mptcpctld` with on the realistic lab:
/// the shipped policy's shape (the uplinks `eth*` active, both families), with
/// only what an administrator of that host would add.
struct RealHostPolicy: CustomStringConvertible {
    enum PathManager: String, CaseIterable, Sendable, CustomStringConvertible {
        case kernel, userspace
        var description: String { rawValue == "kernel" ? "in-kernel PM" : "userspace PM" }
    }

    var pathManager: PathManager
    /// `[routing] mode`; nil leaves `[routing]` out (the default, on).
    var routingMode: String?
    /// `[routing] rp_filter` ("loose" | "keep"); nil leaves the key out.
    var reversePathFilter: String?
    /// `gateway = …` of uplink 2 (eth2): what its admin knows on variant (a), where no route names it.
    var eth2Gateways: [IPAddress] = []

    var description: String {
        var text = """
        [daemon]
        state_directory = "@STATE@"
        resync_interval = 0

        [kernel]
        path_manager = "\(pathManager.rawValue)"
        limits = { subflows = 8, add_addr_accepted = 8 }
        on_exit = "remove"

        """
        var routing: [String] = []
        if let routingMode { routing.append("mode = \"\(routingMode)\"") }
        if let reversePathFilter { routing.append("rp_filter = \"\(reversePathFilter)\"") }
        if !routing.isEmpty { text += "\n[routing]\n" + routing.joined(separator: "\n") + "\n" }
        if !eth2Gateways.isEmpty {
            let list = eth2Gateways.map { "\"\($0)\"" }.joined(separator: ", ")
            text += """

            [[interface]]
            name = "eth2"
            role = "active"
            gateway = [\(list)]

            """
        }
        text += """

        [[interface]]
        name = "eth*"
        role = "active"

        """
        return text
    }
}

extension RealisticLab {
    /// Each subflow's TCP state as `mptcpctl connections --json` reports it, by its
    /// source address (every connection of the client).
    func reportedSubflowStates() throws -> [IPAddress: String] {
        let text = try mptcpctl(client, ["connections", "--json"]).stdout
        guard let connections = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            throw LabError("mptcpctl connections --json: not an array: \(text)")
        }
        var states: [IPAddress: String] = [:]
        for connection in connections {
            for subflow in connection["subflows"] as? [[String: Any]] ?? [] {
                if let address = (subflow["local_address"] as? String).flatMap(IPAddress.init) {
                    states[address] = subflow["state"] as? String ?? "none"
                }
            }
        }
        return states
    }

    /// Starts `mptcpctld` in the client with `policy` and waits until it runs and the
    /// kernel matches its plan (endpoints and, with routing on, rules and routes).
    func startDaemon(_ policy: RealHostPolicy) throws -> Daemon {
        let daemon = try Daemon(namespace: client, policy: policy.description)
        try daemon.waitRunning(seconds: 60)
        try daemon.waitConverged(seconds: 60)
        return daemon
    }
}

/// One line of the measured table, printed so a run's output carries it.
func reportMeasurement(_ what: String, single: BulkTransfer?, multi: BulkTransfer, second: [SubflowSocket]) {
    let states = second.map(\.state).joined(separator: ",")
    let line = String(format: "REALHOST %@: second subflow %@, %.1f Mbit/s", what, states.isEmpty ? "none" : states,
                      multi.mbitPerSecond)
        + (single.map { String(format: " (one path %.1f Mbit/s, ratio %.2f)", $0.mbitPerSecond,
                               $0.mbitPerSecond > 0 ? multi.mbitPerSecond / $0.mbitPerSecond : 0) } ?? "")
    print(line)
}
