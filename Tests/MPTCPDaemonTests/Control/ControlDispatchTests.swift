import MPTCPAPI
@testable import MPTCPDaemon
import Testing

/// The daemon dispatches through `ControlMethods`: every method has a handler,
/// and a request is refused, in this order, for an unknown method, a peer that
/// may not change the daemon, and bad parameters, without a socket or a kernel.
@Suite struct ControlDispatchTests {
    let peer = ControlPeer(pid: 1, uid: 1000, gid: 1000)

    /// Dispatches `request` with the real table, parameters checked and nothing run.
    func dispatch(_ method: String, _ params: [String: JSONValue] = [:], admin: Bool) -> Result<ControlAnswer, RPCError> {
        let authorisation = ControlAuthorisation(adminGroup: nil)
        let who = admin ? ControlPeer(pid: 1, uid: 0, gid: 0) : peer
        return ControlAPI.dispatch(RPCRequest(id: 1, method: method, params: params), to: ControlHandlers.table[method],
                                   authorised: { authorisation.check(method, peer: who) }) { handler, values throws(RPCError) in
            try handler.checkParams(values)
            return ControlAnswer(json: .null, record: RemovedRecord())
        }
    }

    func errorName(_ outcome: Result<ControlAnswer, RPCError>) -> String? {
        if case .failure(let e) = outcome { return e.name }
        return nil
    }

    @Test func everyDefinedMethodHasOneHandlerWithItsDefinition() {
        #expect(ControlHandlers.handlers.map(\.definition) == ControlMethods.all.map { $0.definition })
        #expect(ControlHandlers.table.count == ControlMethods.all.count)
    }

    @Test func onlyStatusAndSubscribeAreAnsweredOnTheEventLoop() {
        #expect(ControlHandlers.handlers.filter(\.onLoop).map(\.definition.name) == ["status", "subscribe"])
        #expect(ControlAPI.answersOnLoop("no.such.method"), "an unknown method is refused on the loop")
    }

    @Test func anUnknownMethodIsRefusedByName() {
        guard case .failure(let e) = dispatch("subflow.frobnicate", admin: true) else { Issue.record("answered"); return }
        #expect(e.name == "unknown_method" && e.code == -32601 && e.message == "no method \"subflow.frobnicate\"")
    }

    @Test func mutatingMethodsAreRefusedToAPeerThatIsNotAdmin() {
        for method in ControlMethods.all where method.mutates {
            guard case .failure(let e) = dispatch(method.name, admin: false) else { Issue.record("\(method.name) ran"); continue }
            #expect(e.name == "permission_denied")
            #expect(e.message == "\(method.name) changes the daemon's state: it needs root (you are uid 1000)")
        }
    }

    @Test func readMethodsAreOpenToEveryPeer() {
        for method in ControlMethods.all where !method.mutates {
            #expect(errorName(dispatch(method.name, admin: false)) == nil, "\(method.name)")
        }
    }

    @Test func theRefusalOfANonAdminComesBeforeItsParameters() {
        #expect(errorName(dispatch("remove", ["bogus": 1], admin: false)) == "permission_denied")
    }

    @Test func unknownAndMalformedParametersAreInvalidParams() {
        guard case .failure(let unknown) = dispatch("status", ["verbose": true], admin: false) else { Issue.record("ran"); return }
        #expect(unknown.name == "invalid_params" && unknown.message == "params.verbose: unknown parameter (this method takes none)")
        guard case .failure(let token) = dispatch("remove", ["token": "xyz", "id": 1], admin: true) else { Issue.record("ran"); return }
        #expect(token.message == "params.token: \"xyz\" is not 8 hex digits")
        guard case .failure(let id) = dispatch("remove", ["token": "0000abcd"], admin: true) else { Issue.record("ran"); return }
        #expect(id.message == "params.id: required")
        #expect(errorName(dispatch("remove", ["token": "0000abcd", "id": 3], admin: true)) == nil)
    }

    @Test func anAdminGroupMemberMayMutate() {
        let authorisation = ControlAuthorisation(adminGroup: 50, groups: { _, _ in [7, 50] })
        #expect(authorisation.check("remove", peer: peer) == nil, "a supplementary group")
        #expect(ControlAuthorisation(adminGroup: 1000).check("remove", peer: peer) == nil, "the primary group")
        let other = ControlAuthorisation(adminGroup: 51, groups: { _, _ in [7, 50] }).check("remove", peer: peer)
        #expect(other?.message == "remove changes the daemon's state: it needs root or membership of daemon.admin_group (you are uid 1000)")
    }
}
