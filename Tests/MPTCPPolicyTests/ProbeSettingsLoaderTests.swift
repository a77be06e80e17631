import Foundation
import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// `[probe]` and `[[interface]] probe`: defaults, overrides, and every refusal
/// `check` makes with its key and line.
@Suite struct ProbeSettingsLoaderTests {
    func problems(_ text: String) -> [PolicyDiagnostic] {
        do {
            _ = try PolicyLoader.check(text, file: "p.toml")
            return []
        } catch {
            return error.diagnostics
        }
    }

    func expectProblem(_ text: String, line: Int?, key: String, _ message: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        let found = problems(text)
        #expect(found.count == 1, "\(found)", sourceLocation: sourceLocation)
        guard let p = found.first else { return }
        #expect(p.line == line, "\(p)", sourceLocation: sourceLocation)
        #expect(p.key == key, "\(p)", sourceLocation: sourceLocation)
        #expect(p.message.contains(message), "\(p)", sourceLocation: sourceLocation)
    }

    let block = "[[interface]]\nname = \"eth1\"\nrole = \"active\"\n"

    @Test func everyPathIsProbedWithTheDefaultsWhenNothingIsSaid() throws {
        let policy = try PolicyLoader.load(block, file: "p.toml")
        let p = policy.probe
        #expect(p == ProbeSettings())
        #expect(p.targets == [.gateway, .peers] && p.intervalMilliseconds == 400 && p.timeoutMilliseconds == nil)
        #expect(p.loss == 3 && p.maxRTTMilliseconds == nil && p.maxLossPercent == nil && p.recoverHoldMilliseconds == 2000)
        #expect(p.onPathDown == .withdraw && p.mode == .on)
        #expect(policy.probeSettings(for: "eth1") == ProbeSettings())
        #expect(policy.probeSettings(for: "wlan0") == nil)
    }

    @Test func probeKeysDecodeAndABlockOverridesThemForItsInterfaces() throws {
        let policy = try PolicyLoader.load("""
            [[interface]]
            name = "eth1"
            role = "active"
            probe = { interval = "1s", targets = ["192.0.2.1"] }

            [probe]
            targets = ["gateway", "198.51.100.7:443", "[2001:db8::1]:80", "2001:db8::2"]
            interval = "250ms"
            timeout = "300ms"
            loss = 4
            max_rtt = "150ms"
            max_loss = 20
            recover_hold = "5s"
            on_path_down = "backup"
            mode = "on"

            [[interface]]
            name = "eth2"
            role = "backup"
            """, file: "p.toml")
        var expected = ProbeSettings()
        expected.targets = [.gateway, .connect(.v4([198, 51, 100, 7]), port: 443),
                            .connect(IPAddress("2001:db8::1") ?? .v4([0, 0, 0, 0]), port: 80),
                            .echo(IPAddress("2001:db8::2") ?? .v4([0, 0, 0, 0]))]
        expected.intervalMilliseconds = 250
        expected.timeoutMilliseconds = 300
        expected.loss = 4
        expected.maxRTTMilliseconds = 150
        expected.maxLossPercent = 20
        expected.recoverHoldMilliseconds = 5000
        expected.onPathDown = .backup
        #expect(policy.probe == expected)
        #expect(policy.probeSettings(for: "eth2") == expected)
        // The block's keys over [probe], though [probe] comes later in the file.
        var eth1 = expected
        eth1.intervalMilliseconds = 1000
        eth1.targets = [.echo(.v4([192, 0, 2, 1]))]
        #expect(policy.probeSettings(for: "eth1") == eth1)
    }

    @Test func probeFalseAndOffTurnProbingOff() throws {
        let policy = try PolicyLoader.load("""
            [[interface]]
            name = "eth1"
            role = "active"
            probe = false

            [[interface]]
            name = "eth2"
            role = "active"
            probe = { mode = "off" }

            [[interface]]
            name = "eth3"
            role = "off"

            [[interface]]
            name = "eth4"
            role = "active"
            probe = true
            """, file: "p.toml")
        #expect(policy.probeSettings(for: "eth1") == nil)
        #expect(policy.probeSettings(for: "eth2") == nil)
        #expect(policy.probeSettings(for: "eth3") == nil)
        #expect(policy.probeSettings(for: "eth4") == ProbeSettings())
        let off = try PolicyLoader.load("[probe]\nmode = \"off\"\n" + block, file: "p.toml")
        #expect(off.probeSettings(for: "eth1") == nil)
        let adaptive = try PolicyLoader.load("[probe]\ntimeout = \"adaptive\"\n", file: "p.toml")
        #expect(adaptive.probe.timeoutMilliseconds == nil)
    }

    @Test func anIntervalBelowTheFloorIsRefusedWithKeyAndLine() {
        expectProblem("[probe]\ninterval = \"50ms\"\n", line: 2, key: "probe.interval", "below the floor \"100ms\"")
        expectProblem(block + "probe = { interval = \"99ms\" }\n", line: 4, key: "interface[1].probe.interval",
                      "below the floor \"100ms\"")
        expectProblem("[probe]\ninterval = \"soon\"\n", line: 2, key: "probe.interval", "is not a duration")
        #expect(problems("[probe]\ninterval = \"100ms\"\n").isEmpty)
    }

    @Test func zeroOrNegativeCountsAreRefusedWithKeyAndLine() {
        expectProblem("[probe]\nloss = 0\n", line: 2, key: "probe.loss", "must be 1 to 100 lost probes in a row, not 0")
        expectProblem("\n[probe]\nloss = -2\n", line: 3, key: "probe.loss", "not -2")
        expectProblem(block + "probe = { loss = -1 }\n", line: 4, key: "interface[1].probe.loss", "not -1")
        expectProblem("[probe]\nloss = \"3\"\n", line: 2, key: "probe.loss", "expected an integer")
        expectProblem("[probe]\nmax_loss = -1\n", line: 2, key: "probe.max_loss", "must be 0 to 100")
        expectProblem("[probe]\nmax_rtt = \"0ms\"\n", line: 2, key: "probe.max_rtt", "must be 1ms to 60s")
        expectProblem("[probe]\ntimeout = \"0ms\"\n", line: 2, key: "probe.timeout", "\"adaptive\" or a duration")
    }

    @Test func maxLossOverOneHundredIsRefusedWithKeyAndLine() {
        expectProblem("[probe]\nmax_loss = 101\n", line: 2, key: "probe.max_loss", "must be 0 to 100 (percent of the last 10 probes), not 101")
        expectProblem(block + "probe = { max_loss = 150 }\n", line: 4, key: "interface[1].probe.max_loss", "not 150")
    }

    @Test(arguments: [
        ("example.com:443", "is not a probe target"),
        ("192.0.2.1:0", "is not a probe target"),
        ("192.0.2.0/24", "is not a probe target"),
        ("", "is not a probe target"),
        ("224.0.0.1", "cannot be a probe target: it is a multicast address"),
        ("127.0.0.1", "cannot be a probe target: it is a loopback address"),
        ("0.0.0.0", "cannot be a probe target: it is the unspecified address"),
    ])
    func aBadTargetIsRefusedWithKeyAndLine(_ target: String, _ reason: String) {
        expectProblem("[probe]\ntargets = [\"gateway\", \"\(target)\"]\n", line: 2, key: "probe.targets", reason)
        expectProblem(block + "probe = { targets = [\"\(target)\"] }\n", line: 4, key: "interface[1].probe.targets", reason)
    }

    @Test func unknownProbeKeysAndWrongTypesAreRefusedWithKeyAndLine() {
        expectProblem("[probe]\nintervall = \"1s\"\n", line: 2, key: "probe.intervall", "did you mean \"interval\"")
        expectProblem(block + "probe = { los = 3 }\n", line: 4, key: "interface[1].probe.los", "did you mean \"loss\"")
        expectProblem(block + "probe = 3\n", line: 4, key: "interface[1].probe", "expected an inline table")
        expectProblem("probe = 1\n", line: 1, key: "probe", "expected a table")
        expectProblem("[probe]\non_path_down = \"drop\"\n", line: 2, key: "probe.on_path_down", "not one of: withdraw, backup")
        expectProblem("[probe]\nmode = \"auto\"\n", line: 2, key: "probe.mode", "not one of: on, off")
        expectProblem("[probe]\ntargets = [1]\n", line: 2, key: "probe.targets", "element 1: expected a string")
    }

    @Test func anEmptyTargetListMeansPassiveEvidenceOnly() throws {
        let policy = try PolicyLoader.load("[probe]\ntargets = []\n" + block, file: "p.toml")
        #expect(policy.probeSettings(for: "eth1")?.targets == [])
    }

    @Test func probeTargetsRoundTripThroughTheirText() throws {
        for text in ["gateway", "peers", "192.0.2.1", "192.0.2.1:80", "[2001:db8::1]:443", "2001:db8::1"] {
            #expect(ProbeTarget(text)?.description == text)
        }
        let encoded = try JSONEncoder().encode(ProbeSettings())
        #expect(try JSONDecoder().decode(ProbeSettings.self, from: encoded) == ProbeSettings())
    }
}
