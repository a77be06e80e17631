import Foundation
import MPTCPKit
import Synchronization

/// The realistic lab (`scripts/lab/lab realistic`): a client (`NAME-c`) with two
/// uplinks `eth1` and `eth2`, each through its own router (`NAME-r1`, `NAME-r2`:
/// strict rp_filter, nftables anti-spoofing) to a server (`NAME-s`) whose service
/// address (10.3.0.1, fd03::1) both routers reach. The client's routing is one of
/// the variants distributions leave, with no rule made for the daemon:
/// (a) one default route via uplink 1, (b) a default route per uplink with
/// metrics and loose rp_filter, (c) as (b) with strict rp_filter.
/// `close()` (also run by `deinit`) removes it; `lab gc` sweeps a crashed run's.
final class RealisticLab: LabNamespaces, @unchecked Sendable {
    /// The client's routing, as `scripts/lab/lab` describes it.
    enum Variant: String, CaseIterable, Sendable, CustomStringConvertible {
        case a, b, c
        var description: String { "variant (\(rawValue))" }
        /// Whether the client has a default route through uplink 2.
        var routesUplink2: Bool { self != .a }
    }

    let name: String
    private(set) var variant: Variant
    private let closed = Mutex(false)

    var client: String { name + "-c" }
    var server: String { name + "-s" }
    func router(_ uplink: Int) -> String { "\(name)-r\(uplink)" }
    var clientNamespace: NetworkNamespace { get throws { try namespace(client) } }

    /// The client's interface on uplink 1 or 2.
    static func interface(uplink: Int) -> String { "eth\(uplink)" }
    /// The server's service address, reachable through both routers.
    static func service(v6: Bool = false) -> IPAddress { IPAddress(v6 ? "fd03::1" : "10.3.0.1")! }

    /// Brings the lab up with `variant`, each uplink shaped to `rateMbit` (0: unshaped).
    init(variant: Variant, rateMbit: Int = 50) throws {
        try KernelRequirement.check()
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft") else {
            throw LabError("/usr/sbin/nft is missing (Debian's nftables; `make deps` installs it): the routers' anti-spoofing needs it")
        }
        name = Lab.uniqueName()
        self.variant = variant
        try run("/bin/bash", [Repository.labScript, "gc"], check: false)
        try run("/bin/bash", [Repository.labScript, "realistic", "up", name, "--variant", variant.rawValue,
                              "--rate", String(rateMbit)])
    }

    deinit { close() }

    func close() {
        let first = closed.withLock { done in
            defer { done = true }
            return !done
        }
        if first { _ = try? run("/bin/bash", [Repository.labScript, "down", name], check: false) }
    }

    /// Switches the client's default routes and rp_filter to another variant.
    func set(_ variant: Variant) throws {
        try run("/bin/bash", [Repository.labScript, "realistic", "variant", name, variant.rawValue])
        self.variant = variant
    }

    /// Uplink 2 renews to another address and gateway (and back on the next call).
    func renew() throws {
        try run("/bin/bash", [Repository.labScript, "realistic", "renew", name])
    }

    /// The client's current address on an uplink (it follows `renew`).
    func clientAddress(uplink: Int, v6: Bool = false) throws -> IPAddress { try address("client\(uplink)", v6: v6) }

    /// The current gateway of an uplink (uplink 1's IPv6 gateway is the link-local fe80::1).
    func gateway(uplink: Int, v6: Bool = false) throws -> IPAddress { try address("gateway\(uplink)", v6: v6) }

    private func address(_ what: String, v6: Bool) throws -> IPAddress {
        let text = try run("/bin/bash", [Repository.labScript, "realistic", "addr", name, what, v6 ? "6" : "4"])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let address = IPAddress(text) else { throw LabError("lab realistic addr \(what): not an address: \(text)") }
        return address
    }

    /// An MPTCP sink on the server (both families), reading every connection to EOF.
    func sink(port: Int) throws -> Peer {
        let peer = try peer(server, ["server", "--bind", "::", "--port", String(port)])
        _ = try peer.wait(for: "listening")
        return peer
    }

    /// A download source on the server: bulk data to every connection until it closes.
    func source(port: Int) throws -> Peer {
        let peer = try peer(server, ["server", "--bind", "::", "--port", String(port), "--send"])
        _ = try peer.wait(for: "listening")
        return peer
    }

    /// The client's TCP sockets towards `port` (an MPTCP connection's subflows), from `ss`.
    func subflows(port: Int) throws -> [SubflowSocket] {
        try SubflowSocket.read(namespace: client, port: port)
    }

    /// The IPv4 or IPv6 rules of the client (`ip -j rule show`), one `[String: Any]` each.
    func clientRules(v6: Bool = false) throws -> [[String: Any]] {
        let text = try exec(client, ["ip", v6 ? "-6" : "-4", "-j", "rule", "show"]).stdout
        return (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]) ?? []
    }

    /// Whether the client has a rule `from ADDRESS` (the one source routing needs).
    func hasRule(from address: IPAddress) throws -> Bool {
        try clientRules(v6: !address.isIPv4).contains { ($0["src"] as? String).flatMap(IPAddress.init) == address }
    }
}

/// One TCP socket of the client as `ss -tni` shows it: a subflow of an MPTCP connection.
struct SubflowSocket: CustomStringConvertible {
    var state: String          // ss's name: ESTAB, SYN-SENT, ...
    var local: IPAddress
    var localPort: Int
    var interface: String?     // `%eth2` when the socket is bound to a device
    var remote: IPAddress
    var bytesAcked: UInt64     // tcpi_bytes_acked: what the peer acknowledged
    var bytesReceived: UInt64 = 0  // tcpi_bytes_received: what the peer sent
    var isEstablished: Bool { state == "ESTAB" }

    var description: String {
        "\(state) \(local):\(localPort)\(interface.map { "%" + $0 } ?? "") -> \(remote) acked=\(bytesAcked)"
    }

    static func read(namespace: String, port: Int) throws -> [SubflowSocket] {
        let text = try run("/usr/sbin/ip", ["netns", "exec", namespace, "ss", "-tniH", "state", "all",
                                            "( dport = :\(port) )"]).stdout
        var sockets: [SubflowSocket] = []
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: \.isWhitespace)
            if let first = line.first, !first.isWhitespace {
                guard words.count >= 5, let (local, localPort, interface) = endpoint(words[3]),
                      let (remote, _, _) = endpoint(words[4]) else { continue }
                sockets.append(SubflowSocket(state: String(words[0]), local: local, localPort: localPort,
                                             interface: interface, remote: remote, bytesAcked: 0))
            } else if !sockets.isEmpty {
                if let acked = words.first(where: { $0.hasPrefix("bytes_acked:") }) {
                    sockets[sockets.count - 1].bytesAcked = UInt64(acked.dropFirst("bytes_acked:".count)) ?? 0
                }
                if let received = words.first(where: { $0.hasPrefix("bytes_received:") }) {
                    sockets[sockets.count - 1].bytesReceived = UInt64(received.dropFirst("bytes_received:".count)) ?? 0
                }
            }
        }
        return sockets
    }

    /// `10.1.2.2%eth2:49977`, `[fd01:2::2]%eth2:39777`, `10.3.0.1:5000`.
    private static func endpoint(_ word: Substring) -> (IPAddress, Int, String?)? {
        guard let colon = word.lastIndex(of: ":"), let port = Int(word[word.index(after: colon)...]) else { return nil }
        var host = word[..<colon]
        var interface: String?
        if let percent = host.lastIndex(of: "%") {
            interface = String(host[host.index(after: percent)...])
            host = host[..<percent]
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard let address = IPAddress(String(host)) else { return nil }
        return (address, port, interface)
    }
}

/// One bulk transfer from the client to the lab's service address, and what its
/// subflows carried: the throughput is the bytes over the measured duration of
/// this run (`mptcp-peer.py`'s figure: sent until the server had read it all).
struct BulkTransfer: CustomStringConvertible {
    var bytes: Int
    var seconds: Double
    var mbitPerSecond: Double { seconds > 0 ? Double(bytes) * 8 / seconds / 1e6 : 0 }
    /// Each subflow as last seen while the connection was open (its highest bytes acked).
    var subflows: [SubflowSocket]

    var description: String {
        String(format: "%.1f Mbit/s (%d bytes in %.2f s); subflows:\n", mbitPerSecond, bytes, seconds)
            + subflows.map { "  \($0)" }.joined(separator: "\n")
    }

    /// Sends for `seconds` from the client to `destination`:`port` (a `sink` must listen there),
    /// sampling the subflows with `ss` while it runs; `probe` is called with each sample
    /// (while the connection is open) until it returns true.
    static func run(in lab: RealisticLab, to destination: IPAddress, port: Int, seconds: Double = 4,
                    probe: (([SubflowSocket]) throws -> Bool)? = nil) throws -> BulkTransfer {
        let client = try lab.peer(lab.client, ["client", "--connect", destination.description, "--port", String(port),
                                               "--seconds", String(seconds)])
        _ = try client.wait(for: "connected")
        var seen: [String: SubflowSocket] = [:]
        var probed = probe == nil
        while client.process.isRunning {
            if !probed { probed = try probe?(try lab.subflows(port: port).filter { $0.state != "TIME-WAIT" }) ?? true }
            // A subflow keeps its highest figures (a closing one reports less).
            for socket in try lab.subflows(port: port) where socket.state != "TIME-WAIT" {
                let key = "\(socket.local):\(socket.localPort)"
                if let old = seen[key], old.isEstablished, !socket.isEstablished || socket.bytesAcked < old.bytesAcked { continue }
                seen[key] = socket
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let done = try client.wait(for: "done", seconds: seconds + 60)
        guard let bytes = done["bytes"] as? Int, let elapsed = done["seconds"] as? Double else {
            throw LabError("mptcp-peer.py: a done line without bytes or seconds: \(done)")
        }
        return BulkTransfer(bytes: bytes, seconds: elapsed,
                            subflows: seen.values.sorted { ($0.local.description, $0.localPort) < ($1.local.description, $1.localPort) })
    }

    /// The subflows whose source is `address`.
    func subflows(from address: IPAddress) -> [SubflowSocket] { subflows.filter { $0.local == address } }
}
