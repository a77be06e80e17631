import MPTCPKit
import MPTCPPolicy
import Testing
@testable import MPTCPDaemon

/// The userspace path manager given a health view by the endpoint thread's
/// pass (`update`, then `decideAll`), on the fake kernel of `ConnectionManagerTests`.
extension ConnectionManagerTests {
    /// The policy and network the manager of `ConnectionManagerTests` starts with.
    func world() throws -> (Policy, NetworkSnapshot) {
        var c = ConnectionPolicy(name: "web")
        c.strategy = .perInterface
        c.position = 1
        c.retry = RetryPolicy(initialMilliseconds: 200, maximumMilliseconds: 30_000, attempts: 3, joinTimeoutMilliseconds: 7000)
        let network = NetworkSnapshot(
            links: [Link(index: 2, name: "eth0", flags: 1, operState: .up), Link(index: 3, name: "eth1", flags: 1, operState: .up)],
            addresses: [InterfaceAddress(address: Self.local.address, prefixLength: 24, interfaceIndex: 2),
                        InterfaceAddress(address: Self.join, prefixLength: 24, interfaceIndex: 3)],
            defaultRoutes: [])
        return (Policy(interfaces: [InterfaceRule(names: [try Glob("eth*")], role: .active, position: 1)], connections: [c]), network)
    }

    /// eth1/ipv4 in `state`, with `on_path_down` and the times it healed.
    static func eth1(_ state: PathHealthState, onPathDown: ProbeSettings.OnPathDown = .withdraw, heals: Int = 0) -> PathHealthView {
        PathHealthView(paths: [PathKey(interface: "eth1", family: .ipv4):
            PathHealthView.Verdict(state: state, onPathDown: onPathDown, evidence: "3 probes lost", heals: heals)])
    }

    /// The connection established, its join from eth1 asked for and established: that subflow.
    func joinEstablishedOnEth1() -> AddressAndPort {
        manager.handle([Self.established])
        #expect(kernel.take() == [wantedJoin])
        let subflow = AddressAndPort(address: Self.join, port: 50000)
        manager.handle([.event(Event(type: .subflowEstablished, token: Self.token, localID: 1, localAddress: Self.join,
                                     remoteAddress: Self.remote.address, localPort: subflow.port, remotePort: Self.remote.port,
                                     interfaceIndex: eth1))])
        _ = kernel.take()
        return subflow
    }

    @Test func anEstablishedSubflowOnADownPathIsWithdrawnAndAskedForAgainWhenItHeals() throws {
        let (policy, network) = try world()
        let subflow = joinEstablishedOnEth1()
        _ = actions()
        manager.update(policy: policy, network: network, health: Self.eth1(.down))
        manager.decideAll()
        #expect(kernel.take() == [.remove(token: Self.token, localID: 1), .destroy(token: Self.token, local: subflow, remote: Self.remote)])
        #expect(actions() == ["address_withdrawn"])
        manager.update(policy: policy, network: network, health: Self.eth1(.down))
        manager.decideAll()
        #expect(kernel.take().isEmpty, "withdrawn once")
        manager.update(policy: policy, network: network, health: Self.eth1(.up))
        manager.decideAll()
        #expect(kernel.take() == [wantedJoin], "healed: asked for at once")
    }

    @Test func aJoinBackingOffOnAPathThatHealsIsSentAtOnce() throws {
        let (policy, network) = try world()
        kernel.createAnswers = [FakeUserspacePM.refused]
        manager.handle([Self.established])
        #expect(kernel.take() == [wantedJoin])
        #expect((200..<250).contains(try #require(manager.millisecondsToWake())), "backing off")
        clock.set(50)
        manager.update(policy: policy, network: network, health: Self.eth1(.down))
        manager.decideAll()
        #expect(kernel.take().isEmpty)
        manager.update(policy: policy, network: network, health: Self.eth1(.up))
        manager.decideAll()
        #expect(kernel.take() == [wantedJoin], "not at the retry time: the path healed")
    }
}
