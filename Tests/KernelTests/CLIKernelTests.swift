import Foundation
import MPTCPKit
import Testing

/// The `mptcpctl` binary as a user drives it, against a lab namespace.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class CLIKernelTests {
    let lab: Lab

    init() throws {
        lab = try Lab(paths: 2)
        #expect(FileManager.default.isExecutableFile(atPath: Repository.mptcpctl), "build mptcpctl first (make test does)")
    }

    deinit { lab.close() }

    func ipState() throws -> String {
        try lab.exec(lab.client, ["ip", "mptcp", "endpoint", "show"]).stdout
            + lab.exec(lab.client, ["ip", "mptcp", "limits", "show"]).stdout
            + lab.exec(lab.client, ["sysctl", "-n", "net.mptcp.path_manager", "net.mptcp.scheduler"]).stdout
    }

    func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    @Test func endpointCommandsMatchIP() throws {
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.2.1", "--id", "4", "--dev", "a2", "--subflow", "--backup"])
        try lab.mptcpctl(lab.client, ["endpoint", "add", "fd00:2::1", "--signal"])
        try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.1.1", "--port", "10300", "--signal"])
        let ip = try lab.exec(lab.client, ["ip", "mptcp", "endpoint", "show"]).stdout
        #expect(ip.contains("10.0.2.1 id 4 subflow backup dev a2"))
        #expect(ip.contains("fd00:2::1 id 5 signal"))
        #expect(ip.contains("10.0.1.1 port 10300 id 6 signal"))

        let table = try lab.mptcpctl(lab.client, ["endpoint", "show"]).stdout.split(separator: "\n")
        #expect(table.first?.split(separator: " ", omittingEmptySubsequences: true) == ["ID", "ADDRESS", "PORT", "FLAGS", "INTERFACE"])
        #expect(table.count == 4)

        let list = try #require(try json(lab.mptcpctl(lab.client, ["--json", "endpoint", "show"]).stdout) as? [[String: Any]])
        #expect(list.count == 3)
        #expect(list[0]["id"] as? Int == 4)
        #expect(list[0]["address"] as? String == "10.0.2.1")
        #expect(list[0]["flags"] as? [String] == ["subflow", "backup"])
        #expect(list[0]["interface"] as? String == "a2")
        #expect(list[0]["port"] == nil, "port is omitted when 0")
        #expect(list[2]["port"] as? Int == 10300)
        #expect(list[1]["interface"] == nil)

        try lab.mptcpctl(lab.client, ["endpoint", "set", "10.0.2.1", "--no-backup", "--fullmesh"])
        #expect(try lab.exec(lab.client, ["ip", "mptcp", "endpoint", "show", "id", "4"]).stdout.contains("subflow fullmesh dev a2"))
        try lab.mptcpctl(lab.client, ["endpoint", "set", "4", "--backup"])
        #expect(try lab.exec(lab.client, ["ip", "mptcp", "endpoint", "show", "id", "4"]).stdout.contains("subflow backup fullmesh dev a2"),
                "changing backup keeps fullmesh")

        try lab.mptcpctl(lab.client, ["endpoint", "delete", "fd00:2::1"])
        try lab.mptcpctl(lab.client, ["endpoint", "delete", "6"])
        let after = try lab.exec(lab.client, ["ip", "mptcp", "endpoint", "show"]).stdout
        #expect(!after.contains("fd00:2::1") && !after.contains("10300") && after.contains("10.0.2.1"))
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        #expect(try lab.exec(lab.client, ["ip", "mptcp", "endpoint", "show"]).stdout.isEmpty)
    }

    @Test func limitsAndSelectionCommands() throws {
        try lab.mptcpctl(lab.client, ["limits", "set", "--subflows", "4", "--add-addr-accepted", "2"])
        #expect(try lab.exec(lab.client, ["ip", "mptcp", "limits", "show"]).stdout.contains("add_addr_accepted 2 subflows 4"))
        let limits = try #require(try json(lab.mptcpctl(lab.client, ["limits", "show", "--json"]).stdout) as? [String: Int])
        #expect(limits == ["subflows": 4, "add_addr_accepted": 2])

        try lab.mptcpctl(lab.client, ["path-manager", "set", "userspace"])
        let pm = try #require(try json(lab.mptcpctl(lab.client, ["-j", "path-manager", "show"]).stdout) as? [String: Any])
        #expect(pm["current"] as? String == "userspace")
        #expect((pm["available"] as? [String])?.contains("kernel") == true)
        try lab.mptcpctl(lab.client, ["path-manager", "set", "kernel"])
        #expect(try lab.mptcpctl(lab.client, ["scheduler", "show"]).stdout.hasPrefix("default"))
        try lab.mptcpctl(lab.client, ["scheduler", "set", "default"])
    }

    /// Each bad input: non-zero exit, exactly one line on stderr, kernel state unchanged.
    @Test(arguments: [
        ["endpoint", "add", "10.0.0.300", "--subflow"],
        ["endpoint", "add", "10.0.1.1", "--subflow"],
        ["endpoint", "add", "10.0.5.1", "--id", "0"],
        ["endpoint", "add", "10.0.5.1", "--id", "256"],
        ["endpoint", "add", "10.0.5.1", "--dev", "nosuchif"],
        ["endpoint", "add", "10.0.5.1", "--port", "80", "--subflow"],
        ["endpoint", "add", "10.0.5.1", "--signal", "--fullmesh"],
        ["endpoint", "delete", "99"],
        ["endpoint", "delete", "10.9.9.9"],
        ["endpoint", "delete", "banana"],
        ["endpoint", "set", "1"],
        ["endpoint", "set", "99", "--backup"],
        ["limits", "set", "--subflows", "9"],
        ["limits", "set", "--subflows", "2", "--add-addr-accepted", "100"],
        ["limits", "set", "--subflows", "-1"],
        ["limits", "set"],
        ["scheduler", "set", "redundant"],
        ["path-manager", "set", "fullmesh"],
        ["subflow", "create", "--token", "deadbeef", "--local", "10.0.2.1", "--remote", "10.0.1.2:5201"],
        ["subflow", "create", "--token", "nothex", "--local", "10.0.2.1", "--remote", "10.0.1.2:5201"],
        ["subflow", "create", "--token", "deadbeef", "--local", "10.0.2.1", "--remote", "10.0.1.2"],
        ["subflow", "create", "--token", "deadbeef", "--local", "10.0.2.1", "--remote", "[fd00:1::2]:80"],
        ["subflow", "destroy", "--token", "deadbeef", "--local", "10.0.2.1:1", "--remote", "10.0.1.2:5201"],
        ["subflow", "destroy", "--token", "deadbeef", "--local", "10.0.2.1", "--remote", "10.0.1.2:5201"],
        ["subflow", "set", "--token", "deadbeef", "--local", "10.0.2.1", "--remote", "10.0.1.2", "--backup"],
        ["announce", "--token", "deadbeef", "--address", "10.0.2.1", "--id", "3"],
        ["announce", "--token", "deadbeef", "--address", "10.0.2.1", "--id", "0"],
        ["remove", "--token", "deadbeef", "--id", "3"],
        ["monitor", "--count", "0"],
        ["bogus"],
    ])
    func badInputGetsOneLineAndChangesNothing(_ arguments: [String]) throws {
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.1.1", "--id", "1", "--subflow"])
        try lab.mptcpctl(lab.client, ["limits", "set", "--subflows", "2", "--add-addr-accepted", "0"])
        let before = try ipState()
        let result = try lab.mptcpctl(lab.client, arguments, check: false)
        #expect(result.status != 0)
        // Without a daemon, the commands it would serve say so first ("mptcpctl: note: ...").
        let errors = result.stderrLines.filter { !$0.hasPrefix("mptcpctl: note: ") }
        #expect(errors.count == 1, "stderr: \(result.stderr)")
        #expect(errors.first?.hasPrefix("mptcpctl: ") == true)
        #expect(result.stdout.isEmpty)
        #expect(try ipState() == before)
    }

    @Test func kernelTextAndHintsReachTheUser() throws {
        let limit = try lab.mptcpctl(lab.client, ["limits", "set", "--subflows", "9"], check: false)
        #expect(limit.stderr.contains("limit greater than maximum (8)"))
        #expect(limit.status == 1)
        let token = try lab.mptcpctl(lab.client, ["remove", "--token", "0xdeadbeef", "--id", "1"], check: false)
        #expect(token.stderr.contains("invalid token"))
        #expect(token.stderr.contains("mptcpctl connections"))
        let scheduler = try lab.mptcpctl(lab.client, ["scheduler", "set", "bpf_rr"], check: false)
        #expect(scheduler.stderr.contains("available: default"))
        let usage = try lab.mptcpctl(lab.client, ["endpoint", "add", "not-an-address"], check: false)
        #expect(usage.status == 64)
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        for i in 1...8 { try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.40.\(i)"]) }
        let ninth = try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.40.9"], check: false)
        #expect(ninth.stderr.contains("at most 8 endpoints"))
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
    }

    @Test func withoutCapNetAdminTheHintSaysSo() throws {
        let result = try lab.exec(lab.client, ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                               "--inh-caps=-all", "--bounding-set=-all",
                                               Repository.mptcpctl, "limits", "set", "--subflows", "3"], check: false)
        #expect(result.status == 1)
        #expect(result.stderr.contains("Operation not permitted"))
        #expect(result.stderr.contains("CAP_NET_ADMIN"))
        // Reading needs no privilege.
        let show = try lab.exec(lab.client, ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                             "--inh-caps=-all", "--bounding-set=-all", Repository.mptcpctl, "limits", "show"], check: false)
        #expect(show.status == 0)
    }

    @Test func helpAndVersionExitZero() throws {
        #expect(try run(Repository.mptcpctl, ["--help"]).stdout.contains("endpoint"))
        #expect(try run(Repository.mptcpctl, ["endpoint", "add", "--help"]).stdout.contains("--laminar"))
        #expect(try run(Repository.mptcpctl, ["help", "subflow", "create"]).stdout.contains("--local-id"))
        #expect(try run(Repository.mptcpctl, ["subflow"]).stdout.contains("destroy"), "a command group alone shows its help")
        #expect(try run(Repository.mptcpctl, ["--version"]).status == 0)
    }
}
