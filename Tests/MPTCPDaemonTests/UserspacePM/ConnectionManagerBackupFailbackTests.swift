import MPTCPKit
import MPTCPPolicy
import Testing
@testable import MPTCPDaemon

/// The userspace path manager when a path it kept as backup through an outage
/// (`on_path_down = "backup"`) heals: the kept subflow is destroyed and a new
/// one asked for at once, not backup; once per heal.
extension ConnectionManagerTests {
    static func eth1(_ state: PathHealthState, heals: Int) -> PathHealthView {
        PathHealthView(paths: [PathKey(interface: "eth1", family: .ipv4):
            PathHealthView.Verdict(state: state, onPathDown: .backup, evidence: "3 probes lost", heals: heals)])
    }

    @Test func aSubflowKeptAsBackupThroughAnOutageIsDestroyedAndAskedForAgainOnHealing() throws {
        let (policy, network) = try world()
        manager.handle([Self.established])
        #expect(kernel.take() == [wantedJoin])
        let subflow = AddressAndPort(address: Self.join, port: 50000)
        manager.handle([.event(Event(type: .subflowEstablished, token: Self.token, localID: 1, localAddress: Self.join,
                                     remoteAddress: Self.remote.address, localPort: subflow.port, remotePort: Self.remote.port,
                                     interfaceIndex: eth1))])
        _ = kernel.take()
        manager.update(policy: policy, network: network, health: Self.eth1(.down, heals: 0))
        manager.decideAll()
        #expect(kernel.take() == [.setBackup(token: Self.token, local: subflow, remote: Self.remote, backup: true)])
        manager.update(policy: policy, network: network, health: Self.eth1(.up, heals: 1))
        manager.decideAll()
        #expect(kernel.take() == [.destroy(token: Self.token, local: subflow, remote: Self.remote), wantedJoin],
                "rebuilt at once, not backup")
        manager.update(policy: policy, network: network, health: Self.eth1(.up, heals: 1))
        manager.decideAll()
        #expect(kernel.take().isEmpty, "once per heal")
    }
}
