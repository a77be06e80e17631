import Foundation
import MPTCPKit
import Synchronization

/// A client set up as cloud images set up their uplinks, and a server behind both:
///
///     NAME-c (client)                              NAME-s (server, router of both uplinks)
///     eth1 10.8.1.2/24  default via 10.8.1.1 metric 100 --- s1 10.8.1.1/24
///     eth2 10.9.0.5/32  default via 10.9.0.1 dev eth2 onlink metric 200 --- s2 10.9.0.1/32, 10.9.0.5/32 dev s2
///                                                         service 10.3.0.1 on lo
///
/// eth2's address is a /32: no connected route holds its gateway, so its
/// default route is `onlink`. The server drops what comes in on an interface its
/// route back does not leave by (strict rp_filter, as an ISP's anti-spoofing),
/// so a subflow from 10.9.0.5 only works when it leaves by eth2. Namespace
/// names follow `scripts/lab/lab`'s, so `lab down` and `lab gc` remove them.
final class CloudHostLab: LabNamespaces, @unchecked Sendable {
    let name: String
    private let closed = Mutex(false)
    var client: String { name + "-c" }
    var server: String { name + "-s" }

    static let uplink1 = IPAddress("10.8.1.2")!
    /// The /32 address of the cloud uplink (eth2), and its on-link gateway.
    static let uplink2 = IPAddress("10.9.0.5")!
    static let gateway2 = IPAddress("10.9.0.1")!
    static let service = IPAddress("10.3.0.1")!

    /// Brings it up; `systemRoutesUplink2`: whether the client has eth2's onlink default route (else only the policy knows it).
    init(systemRoutesUplink2: Bool = true) throws {
        try KernelRequirement.check()
        name = Lab.uniqueName()
        try run("/bin/bash", [Repository.labScript, "gc"], check: false)
        do {
            try build(systemRoutesUplink2: systemRoutesUplink2)
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    func close() {
        let first = closed.withLock { done in
            defer { done = true }
            return !done
        }
        if first { _ = try? run("/bin/bash", [Repository.labScript, "down", name], check: false) }
    }

    private func build(systemRoutesUplink2: Bool) throws {
        let (c, s) = (client, server)
        func ip(_ namespace: String, _ arguments: String...) throws { try run("/usr/sbin/ip", ["-n", namespace] + arguments) }
        for ns in [c, s] {
            try run("/usr/sbin/ip", ["netns", "add", ns])
            try ip(ns, "link", "set", "lo", "up")
        }
        try exec(c, ["sysctl", "-qw", "net.mptcp.enabled=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"])
        try exec(s, ["sysctl", "-qw", "net.mptcp.enabled=1", "net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf.default.rp_filter=1"])
        try ip(c, "link", "add", "eth1", "type", "veth", "peer", "name", "s1", "netns", s)
        try ip(c, "link", "add", "eth2", "type", "veth", "peer", "name", "s2", "netns", s)
        try exec(c, ["sysctl", "-qw", "net.ipv4.conf.eth1.rp_filter=0", "net.ipv4.conf.eth2.rp_filter=0"])
        try ip(c, "addr", "add", "10.8.1.2/24", "dev", "eth1")
        try ip(c, "addr", "add", "10.9.0.5/32", "dev", "eth2")
        try ip(s, "addr", "add", "10.8.1.1/24", "dev", "s1")
        try ip(s, "addr", "add", "10.9.0.1/32", "dev", "s2")
        try ip(s, "addr", "add", "10.3.0.1/32", "dev", "lo")
        for link in ["eth1", "eth2"] { try ip(c, "link", "set", link, "up") }
        for link in ["s1", "s2"] { try ip(s, "link", "set", link, "up") }
        // The server answers for the /32 on s2 (as the cloud's router does), and takes joins.
        try ip(s, "route", "add", "10.9.0.5/32", "dev", "s2")
        try ip(s, "mptcp", "limits", "set", "subflows", "8", "add_addr_accepted", "8")
        try ip(c, "route", "add", "default", "via", "10.8.1.1", "dev", "eth1", "metric", "100")
        if systemRoutesUplink2 {
            try ip(c, "route", "add", "default", "via", "10.9.0.1", "dev", "eth2", "onlink", "metric", "200")
        }
    }

    /// `ip -n CLIENT ARGS...`'s output.
    @discardableResult
    func ip(_ arguments: String...) throws -> String { try run("/usr/sbin/ip", ["-n", client] + arguments).stdout }

    /// `ip -j -n CLIENT ARGS...`, one `[String: Any]` per entry.
    func json(_ arguments: String...) throws -> [[String: Any]] {
        let text = try run("/usr/sbin/ip", ["-j", "-n", client] + arguments).stdout
        return (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]) ?? []
    }

    /// The table of the rule `from ADDRESS` the daemon made (`proto 242`), if there is one.
    func table(from address: IPAddress) throws -> String? {
        guard let rule = try json("rule", "show").first(where: { ($0["src"] as? String) == address.description }) else { return nil }
        return (rule["table"] as? String) ?? (rule["table"] as? Int).map(String.init)
    }

    /// Every rule and every IPv4 route of every table, for before/after comparisons (IPv6's
    /// link-local routes come and go with duplicate address detection, whenever it ends).
    func routingState() throws -> String {
        try [ip("-4", "rule", "show"), ip("-6", "rule", "show"), ip("-4", "route", "show", "table", "all")].joined(separator: "\n---\n")
    }

    /// A daemon on the client: kernel path manager, eth1 and eth2 active, `on_exit = "remove"`.
    func startDaemon(eth2Gateway: IPAddress? = nil) throws -> Daemon {
        let daemon = try Daemon(namespace: client, policy: """
            [daemon]
            state_directory = "@STATE@"
            resync_interval = 0
            [kernel]
            path_manager = "kernel"
            limits = { subflows = 8, add_addr_accepted = 8 }
            on_exit = "remove"
            [[interface]]
            name = "eth1"
            role = "active"
            [[interface]]
            name = "eth2"
            role = "active"
            \(eth2Gateway.map { "gateway = \"\($0)\"" } ?? "")
            """)
        try daemon.waitRunning(seconds: 60)
        try daemon.waitConverged(seconds: 60)
        return daemon
    }
}
