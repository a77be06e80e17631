import Foundation
import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// `PolicyLoader`: decoding `mptcpctld.toml` and reporting every problem with its line and key.
@Suite struct PolicyLoaderBehaviourTests {
    static let file = "/etc/mptcpctl/mptcpctld.toml"

    /// Every diagnostic for `text` (empty when it loads).
    private func diagnostics(_ text: String, offer: KernelOffer? = nil) -> [PolicyDiagnostic] {
        do {
            _ = try PolicyLoader.load(text, file: Self.file, offer: offer)
            return []
        } catch {
            #expect(error.file == Self.file)
            return error.diagnostics
        }
    }

    /// `text` must fail with exactly one diagnostic, on `line` at `key`, whose message contains `message`.
    private func expectOnly(_ text: String, line: Int?, key: String, _ message: String, offer: KernelOffer? = nil,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        let found = diagnostics(text, offer: offer)
        #expect(found.count == 1, "\(found)", sourceLocation: sourceLocation)
        guard let d = found.first else { return }
        #expect(d.line == line, "\(d)", sourceLocation: sourceLocation)
        #expect(d.key == key, "\(d)", sourceLocation: sourceLocation)
        #expect(d.message.contains(message), "\(d.message)", sourceLocation: sourceLocation)
    }

    /// An `[[interface]]` block with `name = "a"`, `role = "active"` and `extra` lines after them (from line 4).
    private func block(_ extra: String...) -> String {
        (["[[interface]]", "name = \"a\"", "role = \"active\""] + extra).joined(separator: "\n") + "\n"
    }

    // MARK: Decoding

    @Test func validFileDecodesEveryKey() throws {
        let text = """
            [daemon]
            socket = "/run/test/ctl.sock"
            socket_group = "mptcp"
            admin_group = "netadmin"
            state_directory = "/var/lib/mptcpctl"
            log_level = "warning"
            resync_interval = 300

            [kernel]
            path_manager = "kernel"
            scheduler = "bpf_burst"
            limits = { subflows = 4, add_addr_accepted = 0 }
            on_exit = "keep"

            [[interface]]
            name = "eth0"
            role = "active"
            announce = true
            fullmesh = false

            [[interface]]
            name = ["wwan*", "usb[0-9]", "wl?0"]
            role = "backup"
            fullmesh = true
            families = ["ipv4"]
            skip_link_local = false
            require_default_route = true

            [[interface]]
            name = "lte*"
            role = "handover"

            [[interface]]
            name = "docker*"
            role = "off"
            """
        let offer = KernelOffer(pathManagers: ["kernel", "userspace"], schedulers: ["default", "bpf_burst"])
        let policy = try PolicyLoader.load(text, file: Self.file, offer: offer)

        var daemon = DaemonSettings()
        daemon.socket = "/run/test/ctl.sock"
        daemon.socketGroup = "mptcp"
        daemon.adminGroup = "netadmin"
        daemon.stateDirectory = "/var/lib/mptcpctl"
        daemon.logLevel = .warning
        daemon.resyncInterval = 300
        var kernel = KernelSettings()
        kernel.pathManager = "kernel"
        kernel.scheduler = "bpf_burst"
        kernel.subflowsLimit = 4
        kernel.addAddrAcceptedLimit = 0
        kernel.onExit = .keep
        let expected = Policy(daemon: daemon, kernel: kernel, interfaces: [
            InterfaceRule(names: [try Glob("eth0")], role: .active, announce: true, position: 1),
            InterfaceRule(names: [try Glob("wwan*"), try Glob("usb[0-9]"), try Glob("wl?0")], role: .backup, fullmesh: true,
                          families: [.ipv4], skipLinkLocal: false, requireDefaultRoute: true, position: 2),
            InterfaceRule(names: [try Glob("lte*")], role: .handover, position: 3),
            InterfaceRule(names: [try Glob("docker*")], role: .off, position: 4),
        ])
        #expect(policy == expected)
        // Spelled out too, so a failure says which key went wrong.
        #expect(policy.daemon.socket == "/run/test/ctl.sock")
        #expect(policy.daemon.stateDirectory == "/var/lib/mptcpctl")
        #expect(policy.daemon.logLevel == .warning)
        #expect(policy.daemon.resyncInterval == 300)
        #expect(policy.kernel.pathManager == "kernel")
        #expect(policy.kernel.scheduler == "bpf_burst")
        #expect(policy.kernel.subflowsLimit == 4)
        #expect(policy.kernel.addAddrAcceptedLimit == 0)
        #expect(policy.kernel.onExit == .keep)
        #expect(policy.interfaces.map(\.position) == [1, 2, 3, 4])
        #expect(policy.interfaces.map(\.role) == [.active, .backup, .handover, .off])
        #expect(policy.interfaces[0].endpointFlags == [.subflow, .signal])
        #expect(policy.interfaces[1].endpointFlags == [.subflow, .backup, .fullmesh])
        #expect(policy.interfaces[2].endpointFlags == [.subflow, .backup], "handover is backup for the in-kernel PM")
        #expect(policy.rule(for: "usb3")?.position == 2)
        #expect(policy.rule(for: "wlp0")?.position == 2)
        #expect(policy.rule(for: "eth1") == nil)
    }

    @Test func nameMayBeAStringOrAnArrayOfStrings() throws {
        let one = try PolicyLoader.load("[[interface]]\nname = \"eth*\"\nrole = \"active\"\n", file: Self.file)
        let many = try PolicyLoader.load("[[interface]]\nname = [\"eth*\", \"en*\"]\nrole = \"active\"\n", file: Self.file)
        let multiline = try PolicyLoader.load("[[interface]]\nname = [\n  \"eth*\",\n  \"en*\",\n]\nrole = \"active\"\n", file: Self.file)
        #expect(one.interfaces.first?.names.map(\.pattern) == ["eth*"])
        #expect(many.interfaces.first?.names.map(\.pattern) == ["eth*", "en*"])
        #expect(multiline == many)
        #expect(many.interfaces.first?.matches("enp3s0") == true && many.interfaces.first?.matches("wlan0") == false)
    }

    @Test func absentKeysTakeTheirDefaults() throws {
        let empty = try PolicyLoader.load("", file: Self.file)
        #expect(empty == Policy())
        #expect(empty.daemon.socket == nil)
        #expect(empty.daemon.socketPath(namespace: nil) == "/run/mptcpctl/mptcpctld.sock")
        #expect(empty.daemon.socketPath(namespace: "blue") == "/run/mptcpctl/mptcpctld-blue.sock")
        #expect(empty.daemon.socketGroup == nil && empty.daemon.adminGroup == nil)
        #expect(empty.daemon.stateDirectory == "/run/mptcpctl")
        #expect(empty.daemon.logLevel == .info)
        #expect(empty.daemon.resyncInterval == 60)
        #expect(empty.kernel.pathManager == nil && empty.kernel.scheduler == nil)
        #expect(empty.kernel.subflowsLimit == nil && empty.kernel.addAddrAcceptedLimit == nil)
        #expect(empty.kernel.onExit == .remove)
        #expect(empty.interfaces.isEmpty)

        let tables = try PolicyLoader.load("[daemon]\n[kernel]\n[kernel.limits]\n", file: Self.file)
        #expect(tables == Policy(), "empty tables change nothing")

        let minimal = try PolicyLoader.load("[[interface]]\nname = \"eth0\"\nrole = \"backup\"\n", file: Self.file)
        #expect(minimal.interfaces == [InterfaceRule(names: [try Glob("eth0")], role: .backup, position: 1)])
        let rule = try #require(minimal.interfaces.first)
        #expect(!rule.announce && !rule.fullmesh)
        #expect(rule.families == [.ipv4, .ipv6])
        #expect(rule.skipLinkLocal && !rule.requireDefaultRoute)
    }

    @Test func keepLeavesPathManagerAndSchedulerNil() throws {
        let offer = KernelOffer(pathManagers: ["kernel"], schedulers: ["default"])
        let policy = try PolicyLoader.load("[kernel]\npath_manager = \"keep\"\nscheduler = \"keep\"\n", file: Self.file, offer: offer)
        #expect(policy.kernel.pathManager == nil)
        #expect(policy.kernel.scheduler == nil)
    }

    @Test func partialLimitsLeaveTheOtherLimitUnset() throws {
        let inline = try PolicyLoader.load("[kernel]\nlimits = { add_addr_accepted = 8 }\n", file: Self.file)
        #expect(inline.kernel.subflowsLimit == nil && inline.kernel.addAddrAcceptedLimit == 8)
        let table = try PolicyLoader.load("[kernel.limits]\nsubflows = 0\n", file: Self.file)
        #expect(table.kernel.subflowsLimit == 0 && table.kernel.addAddrAcceptedLimit == nil)
    }

    @Test func limitsAcceptZeroToEight() throws {
        for n in 0...8 {
            let policy = try PolicyLoader.load("[kernel]\nlimits = { subflows = \(n), add_addr_accepted = \(8 - n) }\n", file: Self.file)
            #expect(policy.kernel.subflowsLimit == UInt32(n) && policy.kernel.addAddrAcceptedLimit == UInt32(8 - n))
        }
    }

    @Test func shippedDefaultPolicyLoadsWithoutDiagnostics() throws {
        // Tests/MPTCPPolicyTests/<this file> → package root → config/mptcpctld.toml
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let url = root.appendingPathComponent("config").appendingPathComponent("mptcpctld.toml")
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(diagnostics(text).isEmpty, "\(diagnostics(text))")
        let offer = KernelOffer(pathManagers: ["kernel", "userspace"], schedulers: ["default"])
        #expect(diagnostics(text, offer: offer).isEmpty, "\(diagnostics(text, offer: offer))")
        let policy = try PolicyLoader.load(text, file: url.path, offer: offer)
        #expect(policy.interfaces.map(\.role) == [.off, .active, .backup])
        #expect(policy.rule(for: "docker0")?.role == .off)
        #expect(policy.rule(for: "eth0")?.role == .active)
        #expect(policy.rule(for: "wwan0")?.role == .backup)
        #expect(policy.rule(for: "lo")?.role == .off)
    }

    // MARK: Unknown keys

    @Test func unknownKeyCloseToAKnownOneSuggestsIt() {
        expectOnly(block("fulmesh = true"), line: 4, key: "interface[1].fulmesh", "unknown key \"fulmesh\"; did you mean \"fullmesh\"?")
    }

    @Test func unknownDaemonKeySuggestsTheCloseOne() {
        expectOnly("[daemon]\n\nlog_lvl = \"info\"\n", line: 3, key: "daemon.log_lvl", "did you mean \"log_level\"?")
    }

    @Test func unknownKeyFarFromEveryKnownOneListsThem() {
        expectOnly(block("colour = \"red\""), line: 4, key: "interface[1].colour",
                   "unknown key \"colour\"; known keys here: name, role, announce, announce_port, fullmesh, families, skip_link_local, require_default_route")
    }

    @Test func unknownTopLevelTableListsTheKnownTables() {
        // (The example was `[routing]` until issue 13 made it a known table.)
        expectOnly("[daemon]\n[routes]\nx = 1\n", line: 2, key: "routes", "known keys here: daemon, kernel, interface, connection")
    }

    @Test func unknownLimitsKeyIsReportedInsideTheInlineTable() {
        expectOnly("[kernel]\nlimits = { subflows = 2, add_addr = 1 }\n", line: 2, key: "kernel.limits.add_addr", "unknown key \"add_addr\"")
    }

    // MARK: Wrong types

    @Test func stringWhereBooleanExpected() {
        expectOnly(block("announce = \"yes\""), line: 4, key: "interface[1].announce", "expected a boolean (true or false), found a string")
    }

    @Test func integerWhereBooleanExpected() {
        expectOnly(block("skip_link_local = 0"), line: 4, key: "interface[1].skip_link_local", "expected a boolean (true or false), found an integer")
    }

    @Test func integerWhereStringExpected() {
        expectOnly("[daemon]\nsocket = 5\n", line: 2, key: "daemon.socket", "expected a string, found an integer")
        expectOnly("[daemon]\nsocket_group = \"-x\"\n", line: 2, key: "daemon.socket_group", "is not a group name")
        expectOnly("[daemon]\nsocket = \"/\(String(repeating: "s", count: 120))\"\n", line: 2, key: "daemon.socket", "at most 107")
        expectOnly("[daemon]\nadmin_group = \"a b\"\n", line: 2, key: "daemon.admin_group", "is not a group name")
    }

    @Test func booleanWhereRoleStringExpected() {
        expectOnly("[[interface]]\nname = \"a\"\nrole = true\n", line: 3, key: "interface[1].role", "expected a string, found a boolean")
    }

    @Test func dateWhereStringExpected() {
        expectOnly("[daemon]\nstate_directory = 1979-05-27\n", line: 2, key: "daemon.state_directory", "found a date or time")
    }

    @Test func floatWhereIntegerExpected() {
        expectOnly("[daemon]\nresync_interval = 1.5\n", line: 2, key: "daemon.resync_interval", "expected an integer, found a float")
    }

    @Test func stringWhereLimitExpected() {
        expectOnly("[kernel]\nlimits = { subflows = \"8\" }\n", line: 2, key: "kernel.limits.subflows", "expected an integer, found a string")
    }

    @Test func scalarWhereTableExpected() {
        expectOnly("daemon = 3\n", line: 1, key: "daemon", "expected a table, found an integer")
        expectOnly("[kernel]\nlimits = 8\n", line: 2, key: "kernel.limits", "expected a table, found an integer")
    }

    @Test func tableWhereArrayOfTablesExpected() {
        expectOnly("[interface]\nname = \"a\"\nrole = \"off\"\n", line: 1, key: "interface",
                   "expected an array of tables ([[interface]] blocks), found a table")
    }

    @Test func arrayOfScalarsWhereArrayOfTablesExpected() {
        let found = diagnostics("interface = [1, \"x\"]\n")
        #expect(found.map(\.key) == ["interface[1]", "interface[2]"])
        #expect(found.map(\.message) == ["expected a table ([[interface]]), found an integer", "expected a table ([[interface]]), found a string"])
    }

    @Test func nonStringElementInName() {
        expectOnly("[[interface]]\nname = [\"a\", 3]\nrole = \"active\"\n", line: 2, key: "interface[1].name",
                   "element 2: expected a string, found an integer")
    }

    @Test func nameOfTheWrongType() {
        expectOnly("[[interface]]\nname = true\nrole = \"active\"\n", line: 2, key: "interface[1].name",
                   "expected a string or an array of strings, found a boolean")
    }

    @Test func nonStringElementInFamilies() {
        expectOnly(block("families = [\"ipv4\", 6]"), line: 4, key: "interface[1].families", "element 2: expected \"ipv4\" or \"ipv6\", found 6")
    }

    @Test func familiesGivenAsAString() {
        expectOnly(block("families = \"ipv4\""), line: 4, key: "interface[1].families", "expected an array of \"ipv4\"/\"ipv6\", found a string")
    }

    // MARK: Values out of range

    @Test func limitAboveTheKernelMaximum() {
        expectOnly("[kernel]\nlimits = { subflows = 9 }\n", line: 2, key: "kernel.limits.subflows", "must be 0 to 8 (the kernel's maximum), not 9")
    }

    @Test func negativeLimit() {
        expectOnly("[kernel]\nlimits = { subflows = 1, add_addr_accepted = -1 }\n", line: 2, key: "kernel.limits.add_addr_accepted",
                   "must be 0 to 8 (the kernel's maximum), not -1")
    }

    @Test func limitOutOfRangeInALimitsTable() {
        expectOnly("[kernel]\non_exit = \"keep\"\n\n[kernel.limits]\nadd_addr_accepted = 2\nsubflows = 100\n", line: 6,
                   key: "kernel.limits.subflows", "not 100")
    }

    @Test func negativeResyncInterval() {
        expectOnly("[daemon]\nresync_interval = -1\n", line: 2, key: "daemon.resync_interval", "must be 0 (off) to 86400 seconds, not -1")
    }

    @Test func resyncIntervalLongerThanADay() throws {
        expectOnly("[daemon]\nresync_interval = 86401\n", line: 2, key: "daemon.resync_interval", "not 86401")
        #expect(try PolicyLoader.load("[daemon]\nresync_interval = 86400\n", file: Self.file).daemon.resyncInterval == 86400)
    }

    @Test func eventBufferBounds() throws {
        expectOnly("[daemon]\nevent_buffer = 4095\n", line: 2, key: "daemon.event_buffer", "must be 4096 to 1073741824 bytes, not 4095")
        expectOnly("[daemon]\nevent_buffer = 1073741825\n", line: 2, key: "daemon.event_buffer", "not 1073741825")
        #expect(try PolicyLoader.load("[daemon]\nevent_buffer = 65536\n", file: Self.file).daemon.eventBuffer == 65536)
        #expect(try PolicyLoader.load("", file: Self.file).daemon.eventBuffer == 16 << 20)
    }

    @Test func relativeStateDirectory() {
        expectOnly("[daemon]\nstate_directory = \"run/mptcpctl\"\n", line: 2, key: "daemon.state_directory",
                   "must be an absolute path, not \"run/mptcpctl\"")
    }

    @Test func relativeSocket() {
        expectOnly("[daemon]\nsocket = \"ctl.sock\"\n", line: 2, key: "daemon.socket", "must be an absolute path")
    }

    // MARK: Interface blocks

    @Test(arguments: [
        ("", "an empty pattern matches no interface"),
        ("abcdefghijklmnop", "longer than 15 characters"),
        ("eth/0", "contains '/'"),
        ("eth0:1", "contains ':'"),
        ("eth 0", "contains whitespace"),
        ("eth[0", "'[' is not closed by ']'"),
        ("eth]", "']' without '['"),
        ("eth\\\\*", "'\\' is not allowed"),
        ("wan[3-0]", "range 3-0 is reversed"),
    ])
    func badGlobIsReportedOnTheNameLine(_ pattern: String, _ reason: String) {
        expectOnly("[[interface]]\nname = \"\(pattern)\"\nrole = \"active\"\n", line: 2, key: "interface[1].name", "bad pattern: ")
        expectOnly("[[interface]]\nname = \"\(pattern)\"\nrole = \"active\"\n", line: 2, key: "interface[1].name", reason)
    }

    @Test func badGlobInTheSecondBlockNamesThatBlock() {
        expectOnly("[[interface]]\nname = \"eth*\"\nrole = \"active\"\n\n[[interface]]\nname = [\"wwan*\", \"usb[\"]\nrole = \"backup\"\n",
                   line: 6, key: "interface[2].name", "bad pattern: \"usb[\": '[' is not closed by ']'")
    }

    @Test func announceTogetherWithFullmesh() {
        expectOnly(block("announce = true", "fullmesh = true"), line: 5, key: "interface[1].fullmesh",
                   "cannot be combined with announce = true")
    }

    @Test func missingName() {
        expectOnly("[daemon]\n\n[[interface]]\nrole = \"active\"\n", line: 3, key: "interface[1]", "missing key \"name\"")
    }

    @Test func missingRole() {
        expectOnly("[[interface]]\nname = \"eth0\"\n", line: 1, key: "interface[1]", "missing key \"role\" (one of: active, backup, handover, off)")
    }

    @Test func missingNameAndRoleAreBothReported() {
        let found = diagnostics("[[interface]]\nannounce = true\n")
        #expect(found.map(\.key) == ["interface[1]", "interface[1]"])
        #expect(found.map(\.line) == [1, 1])
        #expect(found.contains { $0.message.contains("missing key \"name\"") })
        #expect(found.contains { $0.message.contains("missing key \"role\"") })
    }

    @Test func emptyNameList() {
        expectOnly("[[interface]]\nname = []\nrole = \"active\"\n", line: 2, key: "interface[1].name", "an empty list matches no interface")
    }

    @Test func unknownRole() {
        expectOnly("[[interface]]\nname = \"a\"\nrole = \"primary\"\n", line: 3, key: "interface[1].role",
                   "\"primary\" is not one of: active, backup, handover, off")
    }

    @Test func unknownFamily() {
        expectOnly(block("families = [\"ipv4\", \"inet6\"]"), line: 4, key: "interface[1].families",
                   "element 2: expected \"ipv4\" or \"ipv6\", found \"inet6\"")
    }

    @Test func emptyFamilies() {
        expectOnly(block("families = []"), line: 4, key: "interface[1].families", "an empty list uses no address")
    }

    // MARK: Daemon and kernel choices

    @Test func unknownLogLevel() {
        expectOnly("[daemon]\nlog_level = \"verbose\"\n", line: 2, key: "daemon.log_level",
                   "\"verbose\" is not one of: trace, debug, info, notice, warning, error, critical")
    }

    @Test func unknownOnExit() {
        expectOnly("[kernel]\non_exit = \"flush\"\n", line: 2, key: "kernel.on_exit", "\"flush\" is not one of: remove, keep")
    }

    @Test func schedulerNotOfferedByTheKernel() {
        let offer = KernelOffer(pathManagers: ["kernel", "userspace"], schedulers: ["default", "bpf_rr"])
        expectOnly("[kernel]\nscheduler = \"bpf_burst\"\n", line: 2, key: "kernel.scheduler",
                   "\"bpf_burst\" is not offered by the kernel; use one of: keep, default, bpf_rr", offer: offer)
    }

    @Test func pathManagerNotOfferedByTheKernel() {
        let offer = KernelOffer(pathManagers: ["kernel"], schedulers: ["default"])
        expectOnly("[kernel]\npath_manager = \"userspace\"\n", line: 2, key: "kernel.path_manager",
                   "\"userspace\" is not offered by the kernel; use one of: keep, kernel", offer: offer)
    }

    @Test func unknownPathManagerWithoutAnOffer() {
        expectOnly("[kernel]\npath_manager = \"netlink\"\n", line: 2, key: "kernel.path_manager", "use one of: keep, kernel, userspace")
    }

    @Test func schedulerIsOnlyCheckedForShapeWithoutAnOffer() throws {
        #expect(try PolicyLoader.load("[kernel]\nscheduler = \"anything\"\n", file: Self.file).kernel.scheduler == "anything")
        expectOnly("[kernel]\nscheduler = \"bpf rr\"\n", line: 2, key: "kernel.scheduler", "\"bpf rr\" is not a scheduler name")
        expectOnly("[kernel]\nscheduler = \"\"\n", line: 2, key: "kernel.scheduler", "is not a scheduler name")
    }

    // MARK: Syntax errors and reporting

    @Test func tomlSyntaxErrorReportsItsLine() {
        let found = diagnostics("[daemon]\nlog_level = \"info\"\nresync_interval = = 3\n")
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.line == 3)
        #expect(found.first?.key == "")
        #expect(found.first?.message.hasPrefix("TOML syntax: ") == true)
        #expect(found.first?.message.contains("(column ") == true)
    }

    @Test func unterminatedStringIsASyntaxError() {
        let found = diagnostics("[[interface]]\nname = \"eth0\nrole = \"active\"\n")
        #expect(found.count == 1 && found.first?.line == 2 && found.first?.message.hasPrefix("TOML syntax") == true, "\(found)")
    }

    @Test func everyProblemIsReportedSortedByLine() {
        // The reader walks daemon, kernel, then interfaces; the file puts them in another order.
        let text = """
            [[interface]]
            name = "eth[0"
            role = "primary"
            fulmesh = true

            [kernel]
            limits = { subflows = 9, add_addr_accepted = -1 }
            on_exit = "flush"

            [daemon]
            state_directory = "relative"
            resync_interval = -5
            """
        let found = diagnostics(text)
        #expect(found.map(\.line) == [2, 3, 4, 7, 7, 8, 11, 12], "\(found)")
        #expect(found.map(\.key) == [
            "interface[1].name", "interface[1].role", "interface[1].fulmesh",
            "kernel.limits.subflows", "kernel.limits.add_addr_accepted", "kernel.on_exit",
            "daemon.state_directory", "daemon.resync_interval",
        ])
    }

    @Test func errorDescriptionIsFileLineKeyMessage() {
        do {
            _ = try PolicyLoader.load("[daemon]\nlog_level = \"loud\"\n[kernel]\nlimits = { subflows = 9 }\n", file: "/etc/p.toml")
            Issue.record("loaded")
        } catch {
            #expect(error.description == """
                /etc/p.toml:2: daemon.log_level: "loud" is not one of: trace, debug, info, notice, warning, error, critical
                /etc/p.toml:4: kernel.limits.subflows: must be 0 to 8 (the kernel's maximum), not 9
                """)
        }
    }

    @Test func syntaxErrorDescriptionHasNoKey() {
        do {
            _ = try PolicyLoader.load("x = \n", file: "p.toml")
            Issue.record("loaded")
        } catch {
            #expect(error.description.hasPrefix("p.toml:1: TOML syntax: "), "\(error.description)")
        }
    }

    @Test func diagnosticFormatting() {
        #expect(PolicyDiagnostic(line: 7, key: "kernel.scheduler", message: "m").formatted(file: "f") == "f:7: kernel.scheduler: m")
        #expect(PolicyDiagnostic(line: 7, key: "", message: "m").description == "7: m")
        #expect(PolicyDiagnostic(line: nil, key: "k", message: "m").description == "k: m")
    }

    @Test func aDiagnosticWithoutALineStillSeparatesFileAndKey() {
        #expect(PolicyDiagnostic(line: nil, key: "k", message: "m").formatted(file: "f") == "f: k: m")
    }

    @Test func aSubTableOfAnArrayElementIsFoundOnItsOwnLine() {
        let text = """
            [[connection]]
            name = "a"
            [[connection]]
            name = "b"
            [connection.match]
            remote_port = "https"
            """
        let d = diagnostics(text)
        #expect(d.count == 1)
        #expect(d.first?.key.hasPrefix("connection[2].match") == true, "\(d)")
        #expect(d.first?.line == 6, "\(d)")
    }

    @Test func anIndexedKeyFallsBackToItsArrayLine() {
        let lines = KeyLines("[kernel]\nlimits = { subflows = 8 }\n[[interface]]\nname = [\"eth*\", 7]\n")
        #expect(lines["interface[1].name[1]"] == 4)
        #expect(lines["kernel.limits.subflows[0]"] == 2)
        #expect(lines["interface[3]"] == nil || lines["interface[3]"] == 3)
    }
}
