import Foundation
@testable import MPTCPPolicy
import Testing

/// `[hooks]` and `[metrics]` (the reload diff is the daemon's: MPTCPDaemonTests/Control).
@Suite struct HooksMetricsAndDiffTests {
    func load(_ text: String) throws -> Policy { try PolicyLoader.load(text, file: "p.toml") }

    func problem(_ text: String) -> String? {
        do {
            _ = try PolicyLoader.load(text, file: "p.toml")
            return nil
        } catch {
            return error.diagnostics.map { "\($0.key): \($0.message)" }.joined(separator: "; ")
        }
    }

    @Test func hooksAndMetricsDecodeWithDefaults() throws {
        let defaults = try load("")
        #expect(defaults.hooks.directory == "/etc/mptcpctl/hooks.d" && defaults.hooks.timeout == 10 && defaults.hooks.maxConcurrent == 4)
        #expect(defaults.metrics.listen == nil, "off by default")
        let set = try load("""
            [hooks]
            directory = "/srv/hooks"
            timeout = 3
            max_concurrent = 1
            [metrics]
            listen = "[::1]:9464"
            """)
        #expect(set.hooks == { var h = HookSettings(); h.directory = "/srv/hooks"; h.timeout = 3; h.maxConcurrent = 1; return h }())
        #expect(set.metrics.listen == "[::1]:9464")
    }

    @Test func badHookAndMetricsValuesAreRefused() {
        #expect(problem("[hooks]\ndirectory = \"hooks.d\"") == "hooks.directory: must be an absolute path, not \"hooks.d\"")
        #expect(problem("[hooks]\ntimeout = 0") == "hooks.timeout: must be 1 to 3600 seconds, not 0")
        #expect(problem("[hooks]\nmax_concurrent = 65") == "hooks.max_concurrent: must be 1 to 64, not 65")
        #expect(problem("[hooks]\ntimeout = \"5\"")?.hasPrefix("hooks.timeout:") == true)
        #expect(problem("[hooks]\ndirectroy = \"/x\"")?.hasPrefix("hooks.directroy:") == true)
        for bad in ["localhost:9464", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "::1:9464", "[127.0.0.1]:80", "[::1]9464", ":9464"] {
            #expect(problem("[metrics]\nlisten = \"\(bad)\"")?.hasPrefix("metrics.listen: \"\(bad)\" is not HOST:PORT") == true, "\(bad)")
        }
    }

    @Test func perConnectionIsACapOfZeroOrMoreAndOffByDefault() throws {
        #expect(try load("").metrics.perConnection == 0)
        #expect(try load("[metrics]\nper_connection = 20").metrics.perConnection == 20)
        #expect(problem("[metrics]\nper_connection = -1") == "metrics.per_connection: must be a number of connections, 0 or more, not -1")
        #expect(problem("[metrics]\nper_connection = 2.5")?.hasPrefix("metrics.per_connection: expected an integer") == true)
        #expect(problem("[metrics]\nper_connection = \"10\"")?.hasPrefix("metrics.per_connection: expected an integer") == true)
        do {
            _ = try PolicyLoader.load("[metrics]\nlisten = \"127.0.0.1:9464\"\nper_connection = -5\n", file: "p.toml")
            Issue.record("a negative cap was accepted")
        } catch {
            #expect(error.diagnostics.map(\.line) == [3], "the key's line: \(error.diagnostics)")
        }
    }

    @Test func listenParsesAddressesAndPorts() {
        #expect(MetricsListen("127.0.0.1:9464") == MetricsListen(host: "127.0.0.1", port: 9464))
        #expect(MetricsListen("[fd00::1]:80").map { "\($0.host) \($0.port)" } == "fd00::1 80")
        #expect(MetricsListen("0.0.0.0:65535")?.port == 65535)
        #expect(MetricsListen("127.0.0.1:+80") == nil)
    }
}
