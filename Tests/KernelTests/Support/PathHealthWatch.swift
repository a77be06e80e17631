import Foundation
import MPTCPAPI
import MPTCPKit

/// A daemon's path health on the realistic lab as its CLI shows it (`mptcpctl
/// paths --json`, `connections --json`), waited for with generous deadlines:
/// the failures carry `mptcpctl paths`, the endpoints and the daemon's log.
struct PathHealthWatch {
    let lab: RealisticLab
    let daemon: Daemon

    /// Every judged path.
    func records() throws -> [PathRecord] {
        let text = try lab.mptcpctl(lab.client, ["paths", "--json"]).stdout
        guard case .array(let items) = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            throw LabError("paths --json: not an array: \(text)")
        }
        return try items.map { try PathRecord(json: $0) }
    }

    /// The record of `interface`/`family` (`ipv4`, `ipv6`).
    func record(_ interface: String, _ family: String = "ipv4") throws -> PathRecord? {
        try records().first { $0.interface == interface && $0.family == family }
    }

    func state(_ interface: String, _ family: String = "ipv4") throws -> String? {
        try record(interface, family)?.state
    }

    /// Waits until `interface`/`family` is in `state`.
    func wait(_ interface: String, _ state: String, family: String = "ipv4", seconds: Double = 90) throws {
        try waitUntil("\(interface)/\(family) \(state) in mptcpctl paths", seconds: seconds) {
            try self.state(interface, family) == state
        }
    }

    /// `Daemon.waitUntil`, its error with `mptcpctl paths` added.
    func waitUntil(_ what: String, seconds: Double = 90, _ condition: () throws -> Bool) throws {
        do {
            try daemon.waitUntil(what, seconds: seconds, condition)
        } catch {
            let shown = try lab.mptcpctl(lab.client, ["paths"], check: false)
            throw LabError("\(error)\n--- mptcpctl paths ---\n\(shown.stdout)\(shown.stderr)")
        }
    }

    /// The backup flag of each subflow of the client's connections to `port`, by
    /// source address, as `mptcpctl connections --json` reports it.
    func subflowBackup(port: Int) throws -> [IPAddress: Bool] {
        let text = try lab.mptcpctl(lab.client, ["connections", "--json"]).stdout
        let connections = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
        var flags: [IPAddress: Bool] = [:]
        for connection in connections where connection["remote_port"] as? Int == port {
            for subflow in connection["subflows"] as? [[String: Any]] ?? [] {
                guard let address = (subflow["local_address"] as? String).flatMap(IPAddress.init) else { continue }
                flags[address] = subflow["backup"] as? Bool ?? false
            }
        }
        return flags
    }

    /// The in-kernel path manager's endpoint of `address`, as iproute2 shows it.
    func endpoint(_ address: IPAddress) throws -> EndpointRow? {
        try daemon.endpoints().first { IPAddress($0.address) == address }
    }
}

extension RealisticLab {
    /// Adds table `table` of `family` (`inet`, `ip`, `ip6`) to router `uplink`'s
    /// nftables: one rule dropping what its client side forwards that matches
    /// `match` (`""`: everything). The links stay up.
    func addRouterDrop(uplink: Int, table: String, family: String = "inet", match: String = "") throws {
        try exec(router(uplink), ["nft", """
            add table \(family) \(table); \
            add chain \(family) \(table) forward { type filter hook forward priority -10; }; \
            add rule \(family) \(table) forward iifname "lan" \(match) counter drop
            """])
    }

    /// Removes what `addRouterDrop` added.
    func removeRouterDrop(uplink: Int, table: String, family: String = "inet") throws {
        try exec(router(uplink), ["nft", "delete", "table", family, table])
    }
}
