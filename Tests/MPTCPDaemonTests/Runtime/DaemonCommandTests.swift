import Testing
@testable import MPTCPDaemon

/// The daemon's command line parses as the man page says (a smoke test that
/// the library links and is testable without root).
@Suite struct DaemonCommandTests {
    @Test func defaultPolicyFileIsTheOneInEtc() throws {
        let command = try MPTCPCtlD.parse([])
        #expect(command.config == "/etc/mptcpctl/mptcpctld.toml")
    }
}
