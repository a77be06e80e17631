import Testing
@testable import MPTCPDaemon

/// The one place the running policy lives.
@Suite struct PolicyStoreTests {
    @Test func aReloadIsOneWriteThatEveryReaderSees() throws {
        let first = try ReconcilerRig.policy()
        let store = PolicyStore(first)
        let state = DaemonState(policies: store, configPath: "/etc/test.toml")
        #expect(store.loaded.reloads == 0)
        let second = try ReconcilerRig.policy(a2: "off")
        store.replace(with: second)
        #expect(store.current == second)
        #expect(store.loaded.reloads == 1)
        #expect(state.snapshot.policy == second, "the control API's view is the store's")
        #expect(state.snapshot.reloads == 1)
    }
}
