import Foundation
import MPTCPKit
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// How `mptcpctl` answers a mistyped, contradictory, ambiguous or out-of-range command
/// line, and what it prints for scripts (--json, --quiet, endpoint add/show), run as
/// a user would against a lab namespace.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class CLIUsageKernelTests {
    let lab: Lab

    init() throws {
        lab = try Lab(paths: 2)
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
    }

    deinit { lab.close() }

    func ipEndpoints() throws -> String {
        try lab.exec(lab.client, ["ip", "mptcp", "endpoint", "show"]).stdout
    }

    func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }

    /// The JSON error object on stderr, which must be all of stderr.
    func jsonError(_ result: CommandResult) throws -> [String: Any] {
        #expect(result.stderrLines.count == 1, "stderr: \(result.stderr)")
        return try #require(try object(result.stderr)["error"] as? [String: Any], "stderr: \(result.stderr)")
    }

    @Test(arguments: [
        (["-n", "NS", "endpoints"], "unknown command 'endpoints'; did you mean 'endpoint'?"),
        (["frob"], "unknown command 'frob'; commands: endpoint, limits"),
        (["endpoint", "frob"], "unknown command 'endpoint frob'; 'endpoint' takes: show, add, delete, set, flush"),
        (["endpoint", "shwo"], "unknown command 'endpoint shwo'; did you mean 'endpoint show'?"),
        (["-j", "limts", "show"], "unknown command 'limits'"),
        (["subflow", "crate", "--token", "1"], "unknown command 'subflow crate'; did you mean 'subflow create'?"),
    ])
    func unknownCommandsAreNamedWithTheNearestOneAndExit64(_ arguments: [String], _ expected: String) throws {
        let arguments = arguments.map { $0 == "NS" ? lab.client : $0 }
        let result = try run(Repository.mptcpctl, arguments, check: false)
        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        if arguments.first == "-j" {
            let error = try jsonError(result)
            #expect(error["code"] as? String == "unknown-command")
            #expect(error["status"] as? Int == 64)
            #expect((error["message"] as? String)?.hasPrefix("unknown command 'limts'; did you mean 'limits'?") == true, "\(error)")
        } else {
            #expect(result.stderrLines.count == 1, "stderr: \(result.stderr)")
            #expect(result.stderr.hasPrefix("mptcpctl: " + expected), "stderr: \(result.stderr)")
        }
    }

    @Test func onlyGlobalOptionsIsAMissingCommand() throws {
        let result = try run(Repository.mptcpctl, ["-n", lab.client], check: false)
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("mptcpctl: a command is missing after the global options; commands: endpoint,"), "\(result.stderr)")
    }

    @Test(arguments: [
        ["endpoint", "set", "1", "--backup", "--no-backup"],
        ["endpoint", "set", "1", "--no-fullmesh", "--fullmesh"],
        ["endpoint", "set", "1", "--no-backup", "--raw-flags", "0x4"],
        ["subflow", "set", "--token", "deadbeef", "--local", "10.0.1.1", "--remote", "10.0.1.2", "--backup", "--no-backup"],
    ])
    func contradictoryFlagsAreRefusedWithExit64(_ arguments: [String]) throws {
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.1.1", "--id", "1", "--subflow"])
        let before = try ipEndpoints()
        let result = try lab.mptcpctl(lab.client, arguments, check: false)
        #expect(result.status == 64, "stderr: \(result.stderr)")
        #expect(result.stderrLines.count == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.hasPrefix("mptcpctl: \(arguments[0]) set: "), "names the command: \(result.stderr)")
        if arguments.contains("--raw-flags") {
            #expect(result.stderr.contains("--raw-flags 0x4 sets the backup bit that --no-backup clears"), "\(result.stderr)")
        } else {
            #expect(result.stderr.contains(" contradict each other: give one of them"), "\(result.stderr)")
        }
        #expect(try ipEndpoints() == before)
    }

    @Test(arguments: [
        (["--interval", "0.1"], "--interval 0.1: give 0.5 to 3600 seconds"),
        (["--interval", "4000"], "--interval 4000.0: give 0.5 to 3600 seconds"),
        (["--connections", "-1"], "--connections -1: give 0 or more"),
        (["--sort", "bogus"], "--sort \"bogus\": give one of rate, sent, received, retransmits"),
    ])
    func topRefusesBadArgumentsWithOneLineAndExit64BeforeShowingAnything(_ arguments: [String], _ expected: String) throws {
        let result = try lab.mptcpctl(lab.client, ["top", "--once"] + arguments, check: false)
        #expect(result.status == 64, "stderr: \(result.stderr)")
        #expect(result.stderrLines.count == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.hasPrefix("mptcpctl: top: \(expected)"), "\(result.stderr)")
        #expect(result.stdout.isEmpty, "no frame: \(result.stdout)")
    }

    @Test func anAddressNamingSeveralEndpointsIsRefusedWithTheCandidates() throws {
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.1.1", "--id", "3", "--port", "6000", "--signal"])
        try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.1.1", "--id", "4", "--port", "6001", "--signal"])
        let before = try ipEndpoints()
        for verb in [["delete"], ["set", "--backup"]] {
            let result = try lab.mptcpctl(lab.client, ["endpoint", verb[0], "10.0.1.1"] + verb.dropFirst(), check: false)
            #expect(result.status == 64)
            #expect(result.stderr == "mptcpctl: endpoint \(verb[0]): 10.0.1.1 names 2 endpoints: id 3 (10.0.1.1:6000), "
                    + "id 4 (10.0.1.1:6001); give the id or ADDR:PORT\n")
            #expect(try ipEndpoints() == before, "nothing deleted or changed")
        }
        let json = try lab.mptcpctl(lab.client, ["-j", "endpoint", "delete", "10.0.1.1"], check: false)
        #expect(try jsonError(json)["code"] as? String == "ambiguous")
        // ADDR:PORT picks one.
        try lab.mptcpctl(lab.client, ["endpoint", "delete", "10.0.1.1:6001"])
        #expect(try ipEndpoints() == "10.0.1.1 port 6000 id 3 signal \n")
        try lab.mptcpctl(lab.client, ["endpoint", "delete", "10.0.1.1"])
        #expect(try ipEndpoints().isEmpty)
    }

    /// Each refusal: exit 64, one line naming the command typed, the value and the range or form allowed.
    @Test(arguments: [
        (["endpoint", "add", "10.0.5.1", "--id", "-1"], ["endpoint add: ", "'-1'", "1-255"]),
        (["endpoint", "add", "10.0.5.1", "--port", "-1", "--signal"], ["endpoint add: ", "'-1'", "1-65535"]),
        (["limits", "set", "--subflows", "-1"], ["limits set: ", "'-1'", "0-4294967295", "0-8"]),
        (["limits", "set", "--subflows", "4294967297"], ["limits set: ", "'4294967297'", "0-4294967295"]),
        (["limits", "set", "--add-addr-accepted", "x"], ["limits set: ", "'x'", "0-4294967295"]),
        (["subflow", "create", "--token", "deadbeef", "--local", "10.0.1.1", "--local-id", "-3", "--remote", "10.0.1.2:80"],
         ["subflow create: ", "'-3'", "--local-id", "1-255"]),
        (["remove", "--token", "deadbeef", "--id", "-1"], ["remove: ", "'-1'", "--id", "0-255"]),
        // Negative numbers where an argument is expected, and every numeric option with its range.
        (["endpoint", "delete", "-1"], ["endpoint delete: ", "'-1'", "1-255"]),
        (["endpoint", "set", "--backup", "-1"], ["endpoint set: ", "'-1'", "1-255"]),
        (["listen", "10.0.1.1", "-5"], ["listen: ", "'-5'", "1-65535"]),
        (["listen", "10.0.1.1", "70000"], ["mptcpctl: listen: The value '70000'", "1-65535"]),
        (["announce", "--token", "deadbeef", "--address", "10.0.1.1", "--id", "x"], ["announce: ", "'x'", "1-255"]),
        (["announce", "--token", "deadbeef", "--address", "10.0.1.1", "--id", "1", "--port", "99999999999999999999"],
         ["announce: ", "'99999999999999999999'", "1-65535"]),
        (["remove", "--token", "deadbeef", "--id", "256"], ["remove: ", "'256'", "0-255"]),
        (["subflow", "create", "--token", "deadbeef", "--local", "10.0.1.1", "--local-id", "x", "--remote", "10.0.1.2:80"],
         ["subflow create: ", "'x'", "1-255"]),
        (["monitor", "--count", "0"], ["monitor: ", "'0'", "a whole number 1-"]),
        (["endpoint", "add", "fe80::1%c1", "--subflow"], ["endpoint add: ", "fe80::1%c1", "--dev c1"]),
        (["subflow", "destroy", "--token", "deadbeef", "--local", "10.0.1.1:1", "--remote", "[fe80::2%c1]:80"],
         ["subflow destroy: ", "--dev c1 ", "([fe80::2]:80)"]),
        (["endpoint", "add", "0.0.0.0", "--subflow"], ["endpoint add: ", "0.0.0.0", "unspecified", "unicast"]),
        (["endpoint", "add", "::", "--subflow"], ["endpoint add: ", "unspecified"]),
        (["endpoint", "add", "255.255.255.255", "--subflow"], ["endpoint add: ", "broadcast"]),
        (["endpoint", "add", "::ffff:10.1.1.1", "--subflow"], ["endpoint add: ", "IPv4-mapped", "10.1.1.1"]),
        (["endpoint", "add", "224.0.0.1", "--subflow"], ["endpoint add: ", "multicast"]),
        (["endpoint", "add", "ff02::1", "--subflow"], ["endpoint add: ", "multicast"]),
        (["endpoint", "add", "10.0.5.1", "--raw-flags", "40"], ["endpoint add: ", "'40'", "0x"]),
        (["endpoint", "add", "10.0.5.1", "--raw-flags", "0x123456789"], ["endpoint add: ", "0x123456789", "1-8 hex digits"]),
        (["endpoint", "add", "10.0.5.1", "--raw-flags", "0xzz"], ["endpoint add: ", "0xzz"]),
        (["endpoint", "delete", "0"], ["endpoint delete: ", "'0'", "1-255"]),
        (["subflow", "create", "--token", "deadbeef", "--local", "10.0.1.1", "--remote", "0.0.0.0:80"], ["subflow create: ", "unspecified"]),
    ])
    func badNumbersAndAddressesNameTheValueTheRangeAndTheCommand(_ arguments: [String], _ expected: [String]) throws {
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        let result = try lab.mptcpctl(lab.client, arguments, check: false)
        #expect(result.status == 64, "stderr: \(result.stderr)")
        #expect(result.stderrLines.count == 1, "stderr: \(result.stderr)")
        for part in expected { #expect(result.stderr.contains(part), "\(part) missing in: \(result.stderr)") }
        #expect(!result.stderr.contains("Missing value"))
        #expect(try ipEndpoints().isEmpty)
    }

    @Test func aFailedLookupIsReportedUnderTheVerbTyped() throws {
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        let set = try lab.mptcpctl(lab.client, ["endpoint", "set", "99", "--backup"], check: false)
        #expect(set.status == 1)
        #expect(set.stderr.hasPrefix("mptcpctl: set endpoint 99: "), "\(set.stderr)")
        let delete = try lab.mptcpctl(lab.client, ["endpoint", "delete", "10.9.9.9"], check: false)
        #expect(delete.stderr.hasPrefix("mptcpctl: delete endpoint 10.9.9.9: no endpoint has this address"), "\(delete.stderr)")
    }

    @Test func endpointAddPrintsTheEndpointWithTheIdTheKernelChose() throws {
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.1.1", "--id", "7", "--subflow"])
        let text = try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.2.1", "--dev", "a2", "--subflow", "--backup"]).stdout
        let id = try #require(try pm().endpoints().first { $0.address == IPAddress("10.0.2.1")! }?.id)
        #expect(text == "ID  ADDRESS   PORT  FLAGS           INTERFACE\n\(id)   10.0.2.1  -     subflow,backup  a2\n", "\(text)")
        let json = try object(lab.mptcpctl(lab.client, ["-j", "endpoint", "add", "10.0.1.1", "--port", "7000", "--signal"]).stdout)
        let kernelID = try #require(try pm().endpoints().first { $0.port == 7000 }?.id)
        #expect(json["id"] as? Int == Int(kernelID))
        #expect(json["address"] as? String == "10.0.1.1" && json["port"] as? Int == 7000 && json["flags"] as? [String] == ["signal"])
        // The same object `endpoint show ID` prints, and an element of the `endpoint show` list.
        let shown = try object(lab.mptcpctl(lab.client, ["--json", "endpoint", "show", String(kernelID)]).stdout)
        #expect(NSDictionary(dictionary: shown) == NSDictionary(dictionary: json))
        let list = try #require(try JSONSerialization.jsonObject(with: Data(lab.mptcpctl(lab.client, ["-j", "endpoint", "show"]).stdout.utf8))
            as? [[String: Any]])
        #expect(list.contains { NSDictionary(dictionary: $0) == NSDictionary(dictionary: json) })
    }

    func pm() throws -> PathManager { try PathManager(namespace: lab.clientNamespace) }

    @Test func endpointShowIDReadsOneEndpoint() throws {
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.1.1", "--id", "4", "--subflow"])
        try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.2.1", "--id", "5", "--signal"])
        #expect(try lab.mptcpctl(lab.client, ["endpoint", "show", "5"]).stdout
                == "ID  ADDRESS   PORT  FLAGS   INTERFACE\n5   10.0.2.1  -     signal  -\n")
        #expect(try lab.mptcpctl(lab.client, ["endpoint", "show", "10.0.1.1"]).stdout.contains("\n4   10.0.1.1"))
        let missing = try lab.mptcpctl(lab.client, ["-j", "endpoint", "show", "9"], check: false)
        #expect(missing.status == 1 && missing.stdout.isEmpty)
        let error = try jsonError(missing)
        // The kernel says "address not found" with EINVAL; the library classifies it as not found.
        #expect(error["code"] as? String == "not-found")
        #expect(error["kernel_message"] as? String == "address not found")
        #expect((error["message"] as? String)?.hasPrefix("show endpoint 9: ") == true)
        #expect(error["errno"] is Int)
    }

    @Test func rawFlagsAreSentAlongsideTheNamedOnes() throws {
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.1.1", "--id", "2", "--subflow", "--raw-flags", "0x4"])
        #expect(try ipEndpoints() == "10.0.1.1 id 2 subflow backup \n")
        try lab.mptcpctl(lab.client, ["endpoint", "set", "2", "--raw-flags", "0x8"])
        #expect(try ipEndpoints() == "10.0.1.1 id 2 subflow backup fullmesh \n", "the bits asked for, the others kept")
        try lab.mptcpctl(lab.client, ["endpoint", "set", "2", "--no-backup", "--raw-flags", "0x8"])
        #expect(try ipEndpoints() == "10.0.1.1 id 2 subflow fullmesh \n")
    }

    @Test func withJSONEveryErrorIsOneObjectOnStderr() throws {
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        let kernel = try lab.mptcpctl(lab.client, ["-j", "limits", "set", "--subflows", "9"], check: false)
        #expect(kernel.status == 1)
        let k = try jsonError(kernel)
        #expect(k["code"] as? String == "kernel" && k["errno"] as? Int == 22 && k["status"] as? Int == 1)
        #expect(k["kernel_message"] as? String == "limit greater than maximum (8)")
        let usage = try lab.mptcpctl(lab.client, ["limits", "set", "--subflows", "-1", "--json"], check: false)
        #expect(usage.status == 64)
        #expect(try jsonError(usage)["code"] as? String == "usage")
        let parse = try lab.mptcpctl(lab.client, ["-j", "endpoint", "add"], check: false)
        #expect(try jsonError(parse)["code"] as? String == "usage")
        let noDaemon = try lab.mptcpctl(lab.client, ["-j", "status"], check: false)
        #expect(noDaemon.status == 1)
        #expect(try jsonError(noDaemon)["code"] as? String == "daemon-unavailable")
        let notFound = try run(Repository.mptcpctl, ["-j", "-n", "no-such-namespace-here", "endpoint", "show"], check: false)
        #expect(try jsonError(notFound)["code"] as? String == "not-found")
    }

    @Test func quietSilencesTheNoDaemonNote() throws {
        let loud = try lab.mptcpctl(lab.client, ["connections"])
        #expect(loud.stderr.hasPrefix("mptcpctl: note: no mptcpctld answers"))
        for quiet in [["-q", "connections"], ["connections", "--quiet"], ["-jq", "connections"]] {
            let result = try lab.mptcpctl(lab.client, quiet)
            #expect(result.stderr.isEmpty, "\(quiet): \(result.stderr)")
        }
        // With --json, stderr stays JSON: the note is an object.
        let json = try lab.mptcpctl(lab.client, ["-j", "connections"])
        #expect(try object(json.stderr)["note"] is String)
        // A command routed to the daemon when one runs: only its error remains.
        let routed = try lab.mptcpctl(lab.client, ["-q", "remove", "--token", "deadbeef", "--id", "3"], check: false)
        #expect(routed.status == 1)
        #expect(routed.stderrLines.count == 1 && routed.stderr.hasPrefix("mptcpctl: remove id 3"), "\(routed.stderr)")
    }

    @Test func completionScriptsCompleteValues() throws {
        for shell in ["bash", "zsh", "fish"] {
            let script = try run(Repository.mptcpctl, ["--generate-completion-script", shell]).stdout
            for hook in ["---completion endpoint delete -- positional@0", "---completion path-manager set -- positional@0",
                         "---completion scheduler set -- positional@0", "---completion subflow create -- --token",
                         "---completion endpoint add -- --dev", "---completion endpoint show -- --netns"] {
                #expect(script.contains(hook), "\(shell): \(hook)")
            }
        }
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.2.1", "--id", "6", "--subflow"])
        func complete(_ path: [String], _ argument: String, _ words: [String]) throws -> [String] {
            let result = try run(Repository.mptcpctl, ["---completion"] + path + ["--", argument, String(words.count - 1), "0"] + words)
            return result.stdout.split(separator: "\n").map(String.init)
        }
        let endpoints = try complete(["endpoint", "delete"], "positional@0", ["mptcpctl", "-n", lab.client, "endpoint", "delete", ""])
        #expect(endpoints == ["6", "10.0.2.1"])
        let devices = try complete(["endpoint", "add"], "--dev", ["mptcpctl", "-n", lab.client, "endpoint", "add", "10.0.2.1", "--dev", ""])
        #expect(devices.contains("a1") && devices.contains("a2") && devices.contains("lo"), "\(devices)")
        let namespaces = try complete(["endpoint", "show"], "--netns", ["mptcpctl", "endpoint", "show", "-n", ""])
        #expect(namespaces.contains(lab.client) && namespaces.contains(lab.server))
        let managers = try complete(["path-manager", "set"], "positional@0", ["mptcpctl", "path-manager", "set", ""])
        #expect(managers.contains("kernel") && managers.contains("userspace"))
        let schedulers = try complete(["scheduler", "set"], "positional@0", ["mptcpctl", "scheduler", "set", ""])
        #expect(schedulers.contains("default"))

        // As bash does it: the generated script's function, with the words of the line being completed.
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("mptcpctl-completion-\(getpid()).bash")
        try run(Repository.mptcpctl, ["--generate-completion-script", "bash"]).stdout.write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let line = "\(Repository.mptcpctl) endpoint delete -n \(lab.client) "
        let bash = try run("/bin/bash", ["-c", """
            source "$1"
            COMP_WORDS=("$2" endpoint delete -n "$3" ""); COMP_CWORD=5; COMP_LINE="$4"; COMP_POINT=${#COMP_LINE}
            _mptcpctl "$2" "" "$3"; printf '%s\\n' "${COMPREPLY[@]}"
            """, "bash", script.path, Repository.mptcpctl, lab.client, line])
        #expect(bash.stdout == "6\n10.0.2.1\n", "\(bash.stdout) \(bash.stderr)")
    }

    /// `subflow set` without ports, where two subflows share the addresses: refused with both listed;
    /// the kernel would have flipped one of them.
    @Test func aSubflowSetMatchingTwoSubflowsIsRefusedWithTheCandidates() throws {
        try MPTCPSysctl(namespace: lab.clientNamespace).setPathManager("userspace")
        try MPTCPSysctl(namespace: lab.serverNamespace).setPathManager("userspace")
        let events = try EventLog(lab.clientNamespace)
        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", "6101"])
        _ = try server.wait(for: "listening")
        let client = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", "6101"])
        defer { client.stop(); server.stop() }
        _ = try client.wait(for: "connected")
        client.send("send 1000")
        let token = try #require(try events.wait("established") { $0.type == .established }.token)
        let pm = try PathManager(namespace: lab.clientNamespace)
        let a2 = lab.address("a", path: 2), b1 = AddressAndPort(address: lab.address("b", path: 1), port: 6101)
        var ports: [UInt16] = []
        for _ in 0..<2 {
            try pm.createSubflow(token: token, local: Endpoint(id: 1, address: a2), remote: b1)
            let up = try events.wait("sf_established") {
                $0.type == .subflowEstablished && $0.localAddress == a2 && !ports.contains($0.localPort ?? 0)
            }
            ports.append(try #require(up.localPort))
        }
        let arguments = ["-q", "subflow", "set", "--token", formatToken(token), "--local", "10.0.2.1", "--remote", "10.0.1.2", "--backup"]
        let result = try lab.mptcpctl(lab.client, arguments, check: false)
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("mptcpctl: subflow set: --local 10.0.2.1 --remote 10.0.1.2 match 2 subflows of \(formatToken(token)): "),
                "\(result.stderr)")
        for port in ports { #expect(result.stderr.contains("10.0.2.1:\(port) -> 10.0.1.2:6101")) }
        let view = try #require(try ConnectionTable.read(namespace: lab.clientNamespace).first { $0.token == token })
        #expect(view.subflows.allSatisfy { !$0.backup }, "nothing flipped")
        // With the local port, one subflow: flipped.
        try lab.mptcpctl(lab.client, ["-q", "subflow", "set", "--token", formatToken(token), "--local", "10.0.2.1:\(ports[1])",
                                      "--remote", "10.0.1.2", "--backup"])
        let after = try #require(try ConnectionTable.read(namespace: lab.clientNamespace).first { $0.token == token })
        #expect(after.subflows.filter(\.backup).map(\.localPort) == [ports[1]])
    }

    /// The commands that ask the daemon take --json too: status, reload, dispatch, and metrics as families.
    @Test func daemonCommandsPrintJSON() throws {
        let daemon = try Daemon(namespace: lab.client, policy: ControlAPIKernelTests.policy)
        try daemon.waitServing()
        let metrics = try object(lab.mptcpctl(lab.client, ["-j", "metrics"]).stdout)
        let families = try #require(metrics["families"] as? [[String: Any]])
        #expect(!families.isEmpty)
        for family in families {
            #expect(family["name"] is String && family["type"] is String && family["samples"] is [[String: Any]], "\(family)")
        }
        let samples = families.flatMap { ($0["samples"] as? [[String: Any]]) ?? [] }
        #expect(samples.contains { $0["labels"] is [String: String] && ($0["value"] is Int || $0["value"] is Double) })
        #expect(try object(lab.mptcpctl(lab.client, ["status", "--json"]).stdout)["pid"] as? Int == Int(daemon.process.processIdentifier))
        #expect(try object(lab.mptcpctl(lab.client, ["-j", "reload"]).stdout)["config"] as? String == daemon.configPath)
        let dispatched = try object(lab.mptcpctl(lab.client, ["-j", "dispatch", "a2", "up"]).stdout)
        #expect(dispatched["notified"] as? Bool == true && dispatched["interface"] as? String == "a2")
        let ignored = try object(lab.mptcpctl(lab.client, ["-j", "dispatch", "a2", "hostname"]).stdout)
        #expect(ignored["notified"] as? Bool == false && ignored["reason"] is String)
        #expect(daemon.stop() == 0)
    }

    /// `plan --json` shows endpoints with the fields `endpoint show --json` has, port included.
    @Test func planJSONEndpointsHaveTheEndpointSchema() throws {
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        let added = try object(lab.mptcpctl(lab.client, ["-j", "endpoint", "add", "10.0.2.1", "--port", "7000", "--signal"]).stdout)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mptcpctl-plan-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let policy = directory.appendingPathComponent("policy.toml")
        try "[daemon]\nstate_directory = \"\(directory.path)/state\"\n[[interface]]\nname = \"a1\"\nrole = \"backup\"\n"
            .write(to: policy, atomically: true, encoding: .utf8)
        let plan = try lab.mptcpctl(lab.client, ["-j", "plan", "--config", policy.path], check: false)
        let foreign = try #require(try object(plan.stdout)["foreign"] as? [[String: Any]], "\(plan.stdout) \(plan.stderr)")
        #expect(foreign.count == 1)
        #expect(NSDictionary(dictionary: foreign.first ?? [:]) == NSDictionary(dictionary: added))
    }

    /// `help` is argument-parser's and takes no option: global options typed before it are
    /// dropped (`-n NS help`), and an unknown topic is an unknown command.
    @Test(arguments: [["-n", "NS", "help"], ["-n", "NS", "help", "endpoint"], ["-j", "help"], ["-nNS", "help", "endpoint", "add"]])
    func helpAfterGlobalOptionsShowsHelp(_ arguments: [String]) throws {
        let arguments = arguments.map { $0.replacingOccurrences(of: "NS", with: lab.client) }
        let result = try run(Repository.mptcpctl, arguments, check: false)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("USAGE: mptcpctl"), "\(result.stdout)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
    }

    @Test func helpOnAnUnknownCommandIsAnUnknownCommand() throws {
        let result = try run(Repository.mptcpctl, ["help", "endpont"], check: false)
        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "mptcpctl: unknown command 'endpont'; did you mean 'endpoint'?\n", "\(result.stderr)")
        let json = try run(Repository.mptcpctl, ["-j", "help", "frob"], check: false)
        #expect(json.status == 64)
        #expect(try jsonError(json)["code"] as? String == "unknown-command")
    }

    /// `-nNS`, `-jn NS`, `-jnNS`, before or after the command words, as `ip -n NS` users type them.
    @Test(arguments: [["-nNS", "limits", "show"], ["-jn", "NS", "limits", "show"], ["-jnNS", "limits", "show"],
                      ["limits", "show", "-nNS", "-j"], ["limits", "show", "-qjn", "NS"]])
    func attachedNamespaceNamesAndClustersAreAccepted(_ arguments: [String]) throws {
        let arguments = arguments.map { $0.replacingOccurrences(of: "NS", with: lab.client) }
        let result = try run(Repository.mptcpctl, arguments, check: false)
        #expect(result.status == 0, "\(arguments): \(result.stderr)")
        if arguments.contains(where: { $0.hasPrefix("-j") || $0 == "-qjn" || $0 == "-j" }) {
            #expect(try object(result.stdout)["subflows"] is Int, "\(result.stdout)")
        } else {
            #expect(result.stdout.contains("subflows"), "\(result.stdout)")
        }
    }

    /// `endpoint ID` is `endpoint show ID` (the group's default subcommand), as the manual says.
    @Test func theDefaultSubcommandTakesAnArgumentAfterTheGroupName() throws {
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.1.1", "--id", "3", "--subflow"])
        for selector in ["3", "10.0.1.1"] {
            let result = try lab.mptcpctl(lab.client, ["endpoint", selector], check: false)
            #expect(result.status == 0, "\(selector): \(result.stderr)")
            #expect(result.stdout.contains("\n3   10.0.1.1"), "\(selector): \(result.stdout)")
        }
    }

    /// `endpoint add` combinations the kernel refuses are refused first, in the flags' names, exit 64.
    @Test(arguments: [
        (["--port", "7000"], "--port needs --signal"),
        (["--port", "7000", "--signal", "--subflow"], "--port and --subflow exclude each other"),
        (["--signal", "--fullmesh"], "--signal and --fullmesh exclude each other"),
    ])
    func endpointAddFlagsTheKernelRefusesAreUsageErrors(_ flags: [String], _ expected: String) throws {
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        let result = try lab.mptcpctl(lab.client, ["-j", "endpoint", "add", "10.0.1.1"] + flags, check: false)
        #expect(result.status == 64, "\(result.stderr)")
        let error = try jsonError(result)
        #expect(error["code"] as? String == "usage")
        #expect((error["message"] as? String)?.hasPrefix("endpoint add: " + expected) == true, "\(error)")
        #expect(try ipEndpoints().isEmpty)
    }

    @Test func listenTakesTheUnspecifiedAddress() throws {
        for (address, shown) in [("0.0.0.0", "0.0.0.0:6931"), ("::", "[::]:6932")] {
            let port = shown.split(separator: ":").last.map(String.init) ?? ""
            let listener = try LineProcess(Repository.mptcpctl, ["-n", lab.client, "listen", address, port])
            let line = try listener.waitForLine("the listening line") { $0.hasPrefix("listening") }
            #expect(line.hasPrefix("listening on \(shown)"), "\(line)")
            listener.stop()
        }
    }

    /// A socket that answers every request line with `answer` (nil: accepts and never answers).
    final class FakeDaemon: @unchecked Sendable {
        let directory: URL
        let path: String
        private let fd: Int32

        init(answer: String?, name: String = "mptcpctld.sock") throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("mptcpctl-fake-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            chmod(directory.path, 0o755)
            path = directory.appendingPathComponent(name).path
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard fd >= 0, bound == 0, listen(fd, 8) == 0 else { throw LabError("cannot listen on \(path)") }
            chmod(path, 0o600)
            guard let answer else { return }
            let listener = fd
            Thread.detachNewThread {
                while true {
                    let client = accept(listener, nil, nil)
                    if client < 0 { return }
                    var byte: UInt8 = 0
                    while recv(client, &byte, 1, 0) == 1 && byte != 0x0A {}
                    let line = Array((answer + "\n").utf8)
                    _ = line.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    Glibc.close(client)
                }
            }
        }

        func close() {
            shutdown(fd, Int32(SHUT_RDWR))
            Glibc.close(fd)
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// A garbled answer is the daemon's fault (exit 1, `protocol`), never the command line's;
    /// and a failing `dispatch -j` prints no result on stdout.
    @Test func aGarbledDaemonAnswerIsAProtocolFailureWithNothingOnStdout() throws {
        let fake = try FakeDaemon(answer: "this is not JSON")
        defer { fake.close() }
        for arguments in [["status"], ["dispatch", "a1", "up"]] {
            let result = try lab.mptcpctl(lab.client, ["-j", "--socket", fake.path] + arguments, check: false)
            #expect(result.status == 1, "\(arguments): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(arguments): \(result.stdout)")
            #expect(try jsonError(result)["code"] as? String == "protocol", "\(arguments)")
        }
    }

    /// The daemon's invalid_params is reported under the command typed, once (not `remove: remove: …`).
    @Test func aDaemonsInvalidParamsNamesTheCommandOnce() throws {
        let fake = try FakeDaemon(answer: #"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"params.id: 300 is outside 0...255","data":{"code":"invalid_params"}}}"#)
        defer { fake.close() }
        let result = try lab.mptcpctl(lab.client, ["--socket", fake.path, "remove", "--token", "deadbeef", "--id", "3"], check: false)
        #expect(result.status == 64)
        #expect(result.stderr == "mptcpctl: remove: params.id: 300 is outside 0...255\n", "\(result.stderr)")
    }

    /// `dispatch` where this user may not reach the daemon: exit 1, not "nothing to do".
    @Test func dispatchReportsPermissionDenied() throws {
        let fake = try FakeDaemon(answer: nil)
        defer { fake.close() }
        let result = try run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", Repository.mptcpctl,
                                                  "-j", "--socket", fake.path, "dispatch", "a1", "up"], check: false)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdout.isEmpty, "\(result.stdout)")
        let error = try jsonError(result)
        #expect(error["code"] as? String == "daemon-unavailable")
        #expect((error["message"] as? String)?.contains("permission denied") == true, "\(error)")
    }

    /// Socket trouble is a failure (exit 1), not a usage error.
    @Test func aSocketPathTooLongIsAFailure() throws {
        let result = try lab.mptcpctl(lab.client, ["-j", "--socket", "/tmp/" + String(repeating: "s", count: 200), "status"], check: false)
        #expect(result.status == 1)
        #expect(try jsonError(result)["code"] as? String == "system")
    }

    /// With --json, a note and then a failure are two JSON lines on stderr, the note first
    /// (as mptcpctl(8) says): a routed command without a daemon falls back to the kernel, which refuses.
    @Test func withJSONANoteBeforeAFailureIsItsOwnLine() throws {
        let result = try lab.mptcpctl(lab.client, ["-j", "remove", "--token", "deadbeef", "--id", "3"], check: false)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        let lines = try result.stderrLines.map { try object(String($0)) }
        #expect(lines.count == 2, "\(result.stderr)")
        let note = lines.first?["note"] as? String
        let error = lines.last?["error"] as? [String: Any]
        #expect(note != nil && error?["code"] as? String == "kernel", "\(result.stderr)")
    }

    /// An mptcpctld that cannot be run for `check` is a failure of the system (exit 1), not of the command line.
    @Test func checkWithoutMptcpctldIsASystemFailure() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mptcpctl-alone-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let alone = directory.appendingPathComponent("mptcpctl").path
        try FileManager.default.copyItem(atPath: Repository.mptcpctl, toPath: alone)
        let result = try run("/usr/bin/env", ["PATH=/nonexistent", alone, "-j", "check", "/dev/null"], check: false)
        #expect(result.status == 1, "\(result.stderr)")
        let error = try jsonError(result)
        #expect(error["code"] as? String == "system")
        #expect((error["message"] as? String)?.hasPrefix("cannot run mptcpctld") == true, "\(error)")
    }

    /// In a network namespace with no name, the commands that need no daemon never ask which
    /// one to use; those that do are refused when the default socket's daemon serves another namespace.
    @Test func inAnUnnamedNamespaceOnlyDaemonCommandsAskForTheDaemon() throws {
        // The host's default socket, seen only by this test's mount namespace: a listener in this namespace.
        let fake = try FakeDaemon(answer: nil)
        defer { fake.close() }
        func inUnnamedNamespace(_ arguments: [String]) throws -> CommandResult {
            try run("/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c",
                                         "mount --bind \"$1\" /run/mptcpctl && shift && exec unshare --net \"$@\"",
                                         "sh", fake.directory.path, Repository.mptcpctl] + arguments, check: false)
        }
        for arguments in [["limits", "show"], ["endpoint", "show"], ["-j", "path-manager", "show"]] {
            let result = try inUnnamedNamespace(arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
        }
        let status = try inUnnamedNamespace(["status"])
        #expect(status.status == 64)
        #expect(status.stderr.contains("network namespace with no name"), "\(status.stderr)")
    }

    /// `check`/`plan --json` failures are mptcpctl's JSON error object on stderr: status, a code
    /// that says what (`not-found`, `invalid-policy` with the problems); check keeps its report.
    @Test func checkAndPlanFailuresAreJSONErrors() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mptcpctl-checkjson-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let invalid = directory.appendingPathComponent("invalid.toml")
        try "[[interface]]\nname = \"a1\"\nrole = \"sideways\"\n".write(to: invalid, atomically: true, encoding: .utf8)
        for command in [["check", invalid.path], ["plan", "--config", invalid.path]] {
            let result = try lab.mptcpctl(lab.client, ["-j"] + command, check: false)
            #expect(result.status == 1, "\(command)")
            let error = try jsonError(result)
            #expect(error["code"] as? String == "invalid-policy" && error["status"] as? Int == 1, "\(error)")
            let problems = try #require(error["problems"] as? [[String: Any]], "\(error)")
            #expect(problems.first?["key"] as? String == "interface[1].role", "\(problems)")
            if command[0] == "check" {
                #expect(try object(result.stdout)["valid"] as? Bool == false)
            } else {
                #expect(result.stdout.isEmpty, "\(result.stdout)")
            }
        }
        let missingNamespace = try run(Repository.mptcpctl, ["-j", "-n", "no-such-namespace-here", "check", invalid.path], check: false)
        #expect(missingNamespace.status == 1)
        let error = try jsonError(missingNamespace)
        #expect(error["code"] as? String == "not-found" && error["status"] as? Int == 1, "\(error)")
    }

    /// Global options before the command words are known to the scripts (`mptcpctl -n <TAB>`
    /// completes namespaces, then the command's values in that namespace; `help <TAB>` command words); `announce --dev`
    /// and `monitor --kind` complete; `--dev` with `-n` naming no namespace completes nothing
    /// rather than this namespace's interfaces.
    @Test func completionsKnowTheGlobalOptionsBeforeTheCommand() throws {
        try lab.mptcpctl(lab.client, ["endpoint", "flush"])
        try lab.mptcpctl(lab.client, ["endpoint", "add", "10.0.2.1", "--id", "6", "--subflow"])
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("mptcpctl-completion-global-\(getpid()).bash")
        let text = try run(Repository.mptcpctl, ["--generate-completion-script", "bash"]).stdout
        try text.write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        #expect(text.contains("---completion announce -- --dev"))
        #expect(text.contains("interface") && text.contains("resync"), "monitor --kind values")
        func complete(_ words: [String]) throws -> [String] {
            let line = ([Repository.mptcpctl] + words).joined(separator: " ")
            let result = try run("/bin/bash", ["-c", """
                source "$1"; COMP_LINE="$2"; shift 2
                COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_POINT=${#COMP_LINE}
                _mptcpctl "$1" "${@: -1}" "${@: -2:1}"; printf '%s\\n' "${COMPREPLY[@]}"
                """, "bash", script.path, line, Repository.mptcpctl] + words, check: false)
            return result.stdout.split(separator: "\n").map(String.init)
        }
        #expect(try complete(["-n", ""]).contains(lab.client), "namespaces after a leading -n")
        #expect(try complete(["-n", lab.client, "endpoint", "delete", ""]) == ["6", "10.0.2.1"])
        // After `help`, the command words (bash here; zsh and fish get them in their scripts).
        #expect(try complete(["help", ""]).contains("endpoint"))
        #expect(try run(Repository.mptcpctl, ["--generate-completion-script", "zsh"]).stdout.contains("'*:subcommands:(endpoint limits"))
        #expect(try run(Repository.mptcpctl, ["--generate-completion-script", "fish"]).stdout
                    .contains("-n '__fish_seen_subcommand_from help' -fa 'endpoint limits"))
        let elsewhere = try run(Repository.mptcpctl, ["---completion", "endpoint", "add", "--", "--dev", "5", "0",
                                                      "mptcpctl", "-n", "no-such-namespace-here", "endpoint", "add", "--dev", ""])
        #expect(elsewhere.stdout.isEmpty, "\(elsewhere.stdout)")
    }
}
