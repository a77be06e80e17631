import Foundation
import MPTCPKit
@testable import MPTCPPolicy
import Testing

@Suite struct PolicyLoaderTests {
    func problems(_ text: String, offer: KernelOffer? = nil) -> [PolicyDiagnostic] {
        do {
            _ = try PolicyLoader.load(text, file: "p.toml", offer: offer)
            return []
        } catch {
            return error.diagnostics
        }
    }

    /// The one problem in `text`, which must be on `line` at `key` and say `message`.
    func expectProblem(_ text: String, line: Int?, key: String, _ message: String, offer: KernelOffer? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        let found = problems(text, offer: offer)
        #expect(found.count == 1, "\(found)", sourceLocation: sourceLocation)
        guard let p = found.first else { return }
        #expect(p.line == line, "\(p)", sourceLocation: sourceLocation)
        #expect(p.key == key, "\(p)", sourceLocation: sourceLocation)
        #expect(p.message.contains(message), "\(p)", sourceLocation: sourceLocation)
    }

    @Test func everyKeyDecodes() throws {
        let policy = try PolicyLoader.load("""
            [daemon]
            socket = "/run/x.sock"
            state_directory = "/var/lib/x"
            log_level = "debug"
            resync_interval = 0

            [kernel]
            path_manager = "userspace"
            scheduler = "default"
            limits = { subflows = 2, add_addr_accepted = 3 }
            on_exit = "keep"

            [[interface]]
            name = "eth*"
            role = "active"
            announce = true

            [[interface]]
            name = ["wwan*", "usb?"]
            role = "backup"
            fullmesh = true
            families = ["ipv6"]
            skip_link_local = false
            require_default_route = true
            """, file: "p.toml", offer: KernelOffer(pathManagers: ["kernel", "userspace"], schedulers: ["default"]))
        #expect(policy.daemon.socket == "/run/x.sock")
        #expect(policy.daemon.stateDirectory == "/var/lib/x")
        #expect(policy.daemon.logLevel == .debug)
        #expect(policy.daemon.resyncInterval == 0)
        #expect(policy.kernel.pathManager == "userspace")
        #expect(policy.kernel.scheduler == "default")
        #expect(policy.kernel.subflowsLimit == 2 && policy.kernel.addAddrAcceptedLimit == 3)
        #expect(policy.kernel.onExit == .keep)
        #expect(policy.interfaces.count == 2)
        let eth = policy.interfaces[0], wwan = policy.interfaces[1]
        #expect(eth.names.map(\.pattern) == ["eth*"] && eth.role == .active && eth.announce && !eth.fullmesh)
        #expect(eth.families == [.ipv4, .ipv6] && eth.skipLinkLocal && !eth.requireDefaultRoute && eth.position == 1)
        #expect(eth.endpointFlags == [.subflow, .signal])
        #expect(wwan.names.map(\.pattern) == ["wwan*", "usb?"] && wwan.role == .backup && wwan.fullmesh)
        #expect(wwan.families == [.ipv6] && !wwan.skipLinkLocal && wwan.requireDefaultRoute && wwan.position == 2)
        #expect(wwan.endpointFlags == [.subflow, .backup, .fullmesh])
    }

    @Test func absentKeysTakeTheirDefaultsAndKeepMeansNil() throws {
        let empty = try PolicyLoader.load("", file: "p.toml")
        #expect(empty == Policy())
        #expect(empty.daemon.stateDirectory == "/run/mptcpctl" && empty.daemon.resyncInterval == 60 && empty.kernel.onExit == .remove)
        let keep = try PolicyLoader.load("[kernel]\npath_manager = \"keep\"\nscheduler = \"keep\"\nlimits = { subflows = 4 }\n", file: "p.toml")
        #expect(keep.kernel.pathManager == nil && keep.kernel.scheduler == nil)
        #expect(keep.kernel.subflowsLimit == 4 && keep.kernel.addAddrAcceptedLimit == nil)
    }

    @Test func theShippedDefaultPolicyIsValid() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/mptcpctld.toml")
        let policy = try PolicyLoader.load(try String(contentsOf: url, encoding: .utf8), file: url.path)
        #expect(policy.interfaces.map(\.role) == [.off, .active, .backup])
        let demo = url.deletingLastPathComponent().appendingPathComponent("demo-policy.toml")
        _ = try PolicyLoader.load(try String(contentsOf: demo, encoding: .utf8).replacingOccurrences(of: "@STATE@", with: "/tmp/x"), file: demo.path)
    }

    @Test func unknownKeySuggestsTheCloseOne() {
        expectProblem("[[interface]]\nname = \"a\"\nrole = \"active\"\nfulmesh = true\n", line: 4, key: "interface[1].fulmesh",
                      "did you mean \"fullmesh\"")
    }

    @Test func unknownKeyFarFromAnyListsTheKnownOnes() {
        expectProblem("[daemon]\nbanana = 1\n", line: 2, key: "daemon.banana", "known keys here: socket, socket_group, admin_group, state_directory")
        expectProblem("[extra]\n", line: 1, key: "extra", "unknown key \"extra\"")
    }

    @Test func wrongTypesSayWhatWasExpected() {
        expectProblem("[[interface]]\nname = \"a\"\nrole = \"active\"\nannounce = \"yes\"\n", line: 4, key: "interface[1].announce",
                      "expected a boolean (true or false), found a string")
        expectProblem("[kernel]\nscheduler = 3\n", line: 2, key: "kernel.scheduler", "expected a string, found an integer")
        expectProblem("[daemon]\nresync_interval = 1.5\n", line: 2, key: "daemon.resync_interval", "expected an integer, found a float")
        expectProblem("interface = 3\n", line: 1, key: "interface", "expected an array of tables")
        expectProblem("kernel = 3\n", line: 1, key: "kernel", "expected a table, found an integer")
        expectProblem("[[interface]]\nname = [\"a\", 3]\nrole = \"active\"\n", line: 2, key: "interface[1].name",
                      "element 2: expected a string, found an integer")
        expectProblem("[[interface]]\nname = 3\nrole = \"active\"\n", line: 2, key: "interface[1].name", "expected a string or an array of strings")
        expectProblem("[[interface]]\nname = \"a\"\nrole = \"active\"\nfamilies = \"ipv4\"\n", line: 4, key: "interface[1].families",
                      "expected an array")
    }

    @Test func limitsOutOfRange() {
        expectProblem("[kernel]\nlimits = { subflows = 9 }\n", line: 2, key: "kernel.limits.subflows", "must be 0 to 8")
        expectProblem("[kernel]\nlimits = { add_addr_accepted = -1 }\n", line: 2, key: "kernel.limits.add_addr_accepted", "not -1")
        expectProblem("[kernel.limits]\nsubflows = 10\n", line: 2, key: "kernel.limits.subflows", "must be 0 to 8")
        expectProblem("[kernel]\nlimits = { subflow = 1 }\n", line: 2, key: "kernel.limits.subflow", "did you mean \"subflows\"")
    }

    @Test(arguments: [("", "empty"), ("eth[0", "not closed"), ("abcdefghijklmnopq", "longer than 15"), ("eth 0", "whitespace")])
    func badGlobs(_ pattern: String, _ reason: String) {
        expectProblem("[[interface]]\nname = [\"\(pattern)\"]\nrole = \"active\"\n", line: 2, key: "interface[1].name", reason)
    }

    @Test func announceWithFullmeshIsRefused() {
        expectProblem("[[interface]]\nname = \"a\"\nrole = \"active\"\nannounce = true\nfullmesh = true\n", line: 5,
                      key: "interface[1].fullmesh", "the kernel refuses signal together with fullmesh")
    }

    @Test func missingNameOrRole() {
        expectProblem("[[interface]]\nrole = \"active\"\n", line: 1, key: "interface[1]", "missing key \"name\"")
        expectProblem("[[interface]]\nname = \"a\"\n", line: 1, key: "interface[1]", "missing key \"role\"")
        expectProblem("[[interface]]\nname = []\nrole = \"off\"\n", line: 2, key: "interface[1].name", "an empty list matches no interface")
    }

    @Test func unknownChoices() {
        expectProblem("[[interface]]\nname = \"a\"\nrole = \"primary\"\n", line: 3, key: "interface[1].role", "not one of: active, backup, handover, off")
        expectProblem("[[interface]]\nname = \"a\"\nrole = \"off\"\nfamilies = [\"ipv5\"]\n", line: 4, key: "interface[1].families",
                      "expected \"ipv4\" or \"ipv6\", found \"ipv5\"")
        expectProblem("[[interface]]\nname = \"a\"\nrole = \"off\"\nfamilies = []\n", line: 4, key: "interface[1].families", "empty list")
        expectProblem("[daemon]\nlog_level = \"loud\"\n", line: 2, key: "daemon.log_level", "not one of: trace, debug")
        expectProblem("[kernel]\non_exit = \"flush\"\n", line: 2, key: "kernel.on_exit", "not one of: remove, keep")
    }

    @Test func daemonValues() {
        expectProblem("[daemon]\nresync_interval = -5\n", line: 2, key: "daemon.resync_interval", "not -5")
        expectProblem("[daemon]\nstate_directory = \"run/x\"\n", line: 2, key: "daemon.state_directory", "absolute path")
        expectProblem("[daemon]\nsocket = \"x.sock\"\n", line: 2, key: "daemon.socket", "absolute path")
    }

    @Test func schedulerAndPathManagerMustBeOffered() {
        let offer = KernelOffer(pathManagers: ["kernel", "userspace"], schedulers: ["default"])
        expectProblem("[kernel]\nscheduler = \"bpf_rr\"\n", line: 2, key: "kernel.scheduler",
                      "\"bpf_rr\" is not offered by the kernel; use one of: keep, default", offer: offer)
        expectProblem("[kernel]\npath_manager = \"fancy\"\n", line: 2, key: "kernel.path_manager", "keep, kernel, userspace", offer: offer)
        #expect(problems("[kernel]\nscheduler = \"bpf_rr\"\n").isEmpty, "without an offer the name is only checked for shape")
    }

    @Test func syntaxErrorsCarryTheirLine() {
        let found = problems("[kernel]\nlimits = {\n")
        #expect(found.count == 1)
        #expect(found.first?.line == 2 || found.first?.line == 3)
        #expect(found.first?.message.hasPrefix("TOML syntax") == true)
    }

    @Test func everyProblemIsReportedInLineOrder() throws {
        let text = """
            [kernel]
            limits = { subflows = 9 }
            on_exit = "flush"
            [[interface]]
            name = "eth[0"
            role = "primary"
            """
        let error = #expect(throws: PolicyError.self) { try PolicyLoader.load(text, file: "/etc/p.toml") }
        let lines = try #require(error).diagnostics.compactMap(\.line)
        #expect(lines == [2, 3, 5, 6])
        #expect(error?.description.split(separator: "\n").first == "/etc/p.toml:2: kernel.limits.subflows: must be 0 to 8 (the kernel's maximum), not 9")
    }

    @Test func commentsAndQuotedKeysDoNotConfuseLineNumbers() {
        expectProblem("# role = \"x\"\n[daemon] # comment\n\"log_level\" = \"x\" # = no\n", line: 3, key: "daemon.log_level", "not one of")
    }

    @Test func connectionBlocksDecode() throws {
        let policy = try PolicyLoader.load("""
            [[connection]]
            name = "bulk"
            match = { side = "client", remote_port = [5201, 443], remote = ["0.0.0.0/0", "::/0"], local_port = 9, interface = "eth*" }
            strategy = "ndiffports"
            mode = "active-backup"
            max_subflows = 4
            ndiffports = 3
            retry = { initial = "100ms", max = "1.5s", attempts = 5 }
            failback_hold = "2s"

            [[connection]]
            name = "default"
            """, file: "p.toml")
        #expect(policy.connections.count == 2)
        let bulk = policy.connections[0]
        #expect(bulk.name == "bulk" && bulk.strategy == .ndiffports && bulk.mode == .activeBackup && bulk.position == 1)
        #expect(bulk.match.side == .client && bulk.match.remotePorts == [5201, 443] && bulk.match.localPorts == [9])
        #expect(bulk.match.remote.map(\.description) == ["0.0.0.0/0", "::/0"] && bulk.match.interfaces.map(\.pattern) == ["eth*"])
        #expect(bulk.maxSubflows == 4 && bulk.ndiffports == 3)
        #expect(bulk.retry.initialMilliseconds == 100 && bulk.retry.maximumMilliseconds == 1500 && bulk.retry.attempts == 5)
        #expect(bulk.failbackHoldMilliseconds == 2000)
        let d = policy.connections[1]
        #expect(d.strategy == .perInterface && d.mode == .aggregate && d.maxSubflows == 8 && d.failbackHoldMilliseconds == 3000)
    }

    @Test func connectionBlockErrors() {
        expectProblem("[[connection]]\nstrategy = \"single\"\n", line: 1, key: "connection[1]", "missing key \"name\"")
        expectProblem("[[connection]]\nname = \"a\"\nstrategy = \"mesh\"\n", line: 3, key: "connection[1].strategy", "fullmesh, ndiffports, per-interface, single")
        expectProblem("[[connection]]\nname = \"a\"\nmode = \"fast\"\n", line: 3, key: "connection[1].mode", "aggregate, active-backup, handover")
        expectProblem("[[connection]]\nname = \"a\"\nmax_subflows = 99\n", line: 3, key: "connection[1].max_subflows", "0 to 64")
        expectProblem("[[connection]]\nname = \"a\"\nndiffports = 4\n", line: 3, key: "connection[1].ndiffports", "only used with strategy = \"ndiffports\"")
        expectProblem("[[connection]]\nname = \"a\"\nmatch = { remote = \"10.0.0.0/33\" }\n", line: 3, key: "connection[1].match.remote", "not an address or prefix")
        expectProblem("[[connection]]\nname = \"a\"\nmatch = { remote_port = 70000 }\n", line: 3, key: "connection[1].match.remote_port", "70000 is not a port")
        expectProblem("[[connection]]\nname = \"a\"\nmatch = { sides = \"client\" }\n", line: 3, key: "connection[1].match.sides", "did you mean \"side\"")
        expectProblem("[[connection]]\nname = \"a\"\nfailback_hold = \"soon\"\n", line: 3, key: "connection[1].failback_hold", "not a duration")
        expectProblem("[[connection]]\nname = \"a\"\nretry = { initial = \"5s\", max = \"1s\" }\n", line: 3, key: "connection[1].retry", "longer than max")
        expectProblem("[[connection]]\nname = \"a\"\n[[connection]]\nname = \"a\"\n", line: 4, key: "connection[2].name", "names an earlier block")
    }

    @Test func durationsAndPrefixes() {
        #expect(parseDuration("200ms") == 200 && parseDuration("3s") == 3000 && parseDuration("1.5s") == 1500 && parseDuration("2m") == 120_000)
        #expect(parseDuration("3") == nil && parseDuration("-1s") == nil && parseDuration("xs") == nil)
        #expect(IPPrefix("10.0.0.0/8")?.contains(IPAddress("10.200.1.1")!) == true)
        #expect(IPPrefix("10.0.0.0/8")?.contains(IPAddress("11.0.0.1")!) == false)
        #expect(IPPrefix("2001:db8::/33")?.contains(IPAddress("2001:db8:7fff::1")!) == true)
        #expect(IPPrefix("2001:db8::/33")?.contains(IPAddress("2001:db8:8000::1")!) == false)
        #expect(IPPrefix("::/0")?.contains(IPAddress("10.0.0.1")!) == false, "families never mix")
        #expect(IPPrefix("10.0.0.1")?.length == 32 && IPPrefix("10.0.0.0/40") == nil && IPPrefix("x/8") == nil)
    }
}
