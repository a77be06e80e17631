@testable import MPTCPKit
import Testing

/// doctor's path-health checks (`PathHealthVerdict`) from made-up daemon facts:
/// eth1 (2) holds main's IPv4 default route (metric 100), eth2 (3) a second
/// one (metric 200).
struct PathHealthVerdictTests {
    let fix = FixCommands(namespace: "lab")

    var network: NetworkSnapshot {
        let routes = [(Int32(2), UInt32(100)), (3, 200)].map { oif, metric in
            Route(family: 2, table: Route.tableMain, destination: nil, destinationPrefixLength: 0, gateway: IPAddress("10.1.\(oif - 1).1"),
                  outputInterface: oif, routingProtocol: 3, metric: metric)
        }
        return NetworkSnapshot(links: [Link(index: 2, name: "eth1", flags: 1, operState: .up), Link(index: 3, name: "eth2", flags: 1, operState: .up)],
                               addresses: [], defaultRoutes: [], routes: routes)
    }

    func plane(_ paths: [PathHealthFact]?, routing: String = "on", notes: [String] = []) -> ControlPlaneFacts {
        var plane = ControlPlaneFacts(reachability: .answers)
        plane.paths = paths
        plane.routingMode = routing
        plane.routingNotes = notes
        return plane
    }

    let eth1Down = PathHealthFact(interface: "eth1", family: "ipv4", state: "down", lossPercent: 30,
                                  evidence: "3 probes lost in a row (last timed out, to 10.3.0.1, timeout 50 ms)")
    let eth2Up = PathHealthFact(interface: "eth2", family: "ipv4", state: "up", rttMilliseconds: 0.64, lossPercent: 0)

    func checks(_ plane: ControlPlaneFacts, network: NetworkSnapshot? = nil) -> [String: DiagnosisCheck] {
        Dictionary(PathHealthVerdict.checks(plane: plane, network: network ?? self.network, fix: fix).map { ($0.id, $0) }) { a, _ in a }
    }

    @Test func anUpPathIsOkWithItsFigures() {
        let c = checks(plane([eth2Up]))
        #expect(c["path.eth2.ipv4"] == .ok("path.eth2.ipv4", "eth2/ipv4 up (RTT 0.6 ms, 0 % lost)"))
    }

    @Test func aDownPathWarnsWithTheEvidenceWhileAnotherCarriesTheConnectionsAndFailsWhenNoneDoes() {
        let c = checks(plane([eth1Down, eth2Up]))
        let down = c["path.eth1.ipv4"]
        #expect(down?.status == .warn)
        #expect(down?.summary == "eth1/ipv4 down (30 % lost)")
        #expect(down?.reason == "3 probes lost in a row (last timed out, to 10.3.0.1, timeout 50 ms); mptcpctld steers away from it "
            + "(on_path_down = \"withdraw\") while eth2/ipv4 carries the connections")
        #expect(down?.fix?.contains("mptcpctl -n lab paths shows its probes") == true)
        var eth2Down = eth2Up
        eth2Down.state = "down"
        #expect(checks(plane([eth1Down, eth2Down]))["path.eth1.ipv4"]?.status == .fail)
    }

    @Test func aDegradedPathWarnsAndSaysItIsBackupWhileAnotherIsUp() {
        let degraded = PathHealthFact(interface: "eth1", family: "ipv4", state: "degraded", rttMilliseconds: 352.25,
                                      evidence: "smoothed RTT 352 ms over max_rtt 150 ms")
        let check = checks(plane([degraded, eth2Up]))["path.eth1.ipv4"]
        #expect(check?.status == .warn && check?.summary == "eth1/ipv4 degraded (RTT 352.3 ms)")
        #expect(check?.reason == "smoothed RTT 352 ms over max_rtt 150 ms; mptcpctld makes it backup while eth2/ipv4 is up")
    }

    @Test func aPathNotJudgedYetIsInformation() {
        let unknown = PathHealthFact(interface: "eth1", family: "ipv6", state: "unknown")
        #expect(checks(plane([unknown]))["path.eth1.ipv6"]?.status == .info)
    }

    @Test func noDaemonMeansNoHealthChecksAndADaemonWithoutHealthIsInformation() {
        #expect(PathHealthVerdict.checks(plane: ControlPlaneFacts(reachability: .absent(socket: "s")), network: network, fix: fix).isEmpty)
        var without = plane(nil)
        without.pathHealthUnavailable = "path health is not running in this daemon (see its log)"
        let c = checks(without)
        #expect(c["paths"]?.status == .info && c["paths"]?.summary.hasSuffix(": path health is not running in this daemon (see its log)") == true)
    }

    @Test func whileMainsDefaultPathIsDownTheDaemonsRuleIsInformation() {
        var routed = network
        routed.rules = [RoutingRule(family: 2, priority: 7399, source: nil, table: 7301)]
        let c = checks(plane([eth1Down, eth2Up]), network: routed)
        #expect(c["initial-path.ipv4"]?.status == .info)
        #expect(c["initial-path.ipv4"]?.summary == "eth1/ipv4 holds main's default route and is down: mptcpctld sends new connections "
            + "to table 7301 (its rule from all, priority 7399) until it heals")
        #expect(c["initial-path.ipv6"] == nil, "no IPv6 default route")
        #expect(checks(plane([eth1Down, eth2Up]))["initial-path.ipv4"]?.status == .warn, "routing on, but no rule")
        #expect(checks(plane([PathHealthFact(interface: "eth1", family: "ipv4", state: "up"), eth2Up]))["initial-path.ipv4"] == nil)
    }

    @Test func withRoutingOffItWarnsQuotingWhatTheDaemonWouldHaveDone() {
        let note = "eth1/ipv4 holds main's default route (default via 10.1.1.1 dev eth1) and is down; [routing] mode = \"off\": "
            + "with mode = \"on\", new connections would start on eth2 until it heals"
        let c = checks(plane([eth1Down, eth2Up], routing: "off", notes: [note, "eth2 (IPv6): no gateway known"]))
        let initial = c["initial-path.ipv4"]
        #expect(initial?.status == .warn)
        #expect(initial?.summary == "eth1/ipv4 holds main's default route and is down: new connections start on it")
        #expect(initial?.reason?.hasSuffix("[routing] mode = \"off\": mptcpctld changes no routing; mptcpctld says: \(note)") == true,
                "\(String(describing: initial?.reason))")
        #expect(initial?.fix?.hasPrefix("set [routing] mode = \"on\" in mptcpctld's policy and run mptcpctl -n lab reload") == true)
    }
}
