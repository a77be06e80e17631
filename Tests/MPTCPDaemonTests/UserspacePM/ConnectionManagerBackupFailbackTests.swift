import MPTCPKit
import MPTCPPolicy
import Testing
@testable import MPTCPDaemon

/// The userspace path manager when a path it kept as backup through an outage
/// (`on_path_down = "backup"`) heals: the kept subflow is destroyed and a new
/// one asked for at once, not backup; once per heal.
extension ConnectionManagerTests {
    @Test func aSubflowKeptAsBackupThroughAnOutageIsDestroyedAndAskedForAgainOnHealing() throws {
        let (policy, network) = try world()
        let subflow = joinEstablishedOnEth1()
        manager.update(policy: policy, network: network, health: Self.eth1(.down, onPathDown: .backup))
        manager.decideAll()
        #expect(kernel.take() == [.setBackup(token: Self.token, local: subflow, remote: Self.remote, backup: true)])
        manager.update(policy: policy, network: network, health: Self.eth1(.up, onPathDown: .backup, heals: 1))
        manager.decideAll()
        #expect(kernel.take() == [.destroy(token: Self.token, local: subflow, remote: Self.remote), wantedJoin],
                "rebuilt at once, not backup")
        manager.update(policy: policy, network: network, health: Self.eth1(.up, onPathDown: .backup, heals: 1))
        manager.decideAll()
        #expect(kernel.take().isEmpty, "once per heal")
    }
}
