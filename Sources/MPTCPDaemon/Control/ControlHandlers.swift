import MPTCPAPI

/// A method's answer: its JSON, and the typed record it was written from (the
/// connection's handler starts a stream on a `SubscriptionRecord`, without
/// reading the JSON back).
struct ControlAnswer: Sendable {
    var json: JSONValue
    var record: any ControlRecord
}

/// How the daemon runs one method of `ControlMethods`.
struct ControlHandler: Sendable {
    var definition: ControlMethodDefinition
    /// Cheap and non-blocking (no netlink dump, no file but a sysctl): run on
    /// the event loop itself, without a hop to the worker thread.
    var onLoop: Bool
    var run: @Sendable (ControlAPI, [String: JSONValue]) throws(RPCError) -> ControlAnswer
    /// Reads the parameters only (what `run` does first), for tests.
    var checkParams: @Sendable ([String: JSONValue]) throws(RPCError) -> Void

    /// The handler of `method`: reads its typed parameters (refusing unknown
    /// ones), runs `body`, writes its typed result.
    init<M: ControlMethod>(_ method: M.Type, onLoop: Bool = false,
                           _ body: @escaping @Sendable (ControlAPI, M.Params) throws(RPCError) -> M.Result) {
        definition = M.definition
        self.onLoop = onLoop
        run = { api, values throws(RPCError) in
            let result = try body(api, try M.Params(request: values))
            return ControlAnswer(json: result.json, record: result)
        }
        checkParams = { values throws(RPCError) in _ = try M.Params(request: values) }
    }
}

/// The daemon's handler for each method of the control API; a method of
/// `ControlMethods.all` without one here is a failed test, not a silent gap.
enum ControlHandlers {
    typealias M = ControlMethods

    static let handlers: [ControlHandler] = [
        ControlHandler(M.Status.self, onLoop: true) { api, _ in api.status() },
        ControlHandler(M.Connections.self) { api, _ throws(RPCError) in try api.connections() },
        ControlHandler(M.Endpoints.self) { api, _ throws(RPCError) in try api.endpoints() },
        ControlHandler(M.Interfaces.self) { api, _ throws(RPCError) in try api.interfaces() },
        ControlHandler(M.Paths.self) { api, _ throws(RPCError) in try api.paths() },
        ControlHandler(M.PolicyShow.self) { api, _ throws(RPCError) in try api.policyShow() },
        ControlHandler(M.Subscribe.self, onLoop: true) { api, p in api.subscribe(p) },
        ControlHandler(M.Metrics.self) { api, _ throws(RPCError) in try api.metrics().get() },
        ControlHandler(M.PolicyPlan.self) { api, _ throws(RPCError) in try api.policyPlan() },
        ControlHandler(M.PolicyReload.self) { api, _ throws(RPCError) in try api.policyReload() },
        ControlHandler(M.SubflowCreate.self) { api, p throws(RPCError) in try api.subflowCreate(p) },
        ControlHandler(M.SubflowDestroy.self) { api, p throws(RPCError) in try api.subflowDestroy(p) },
        ControlHandler(M.SubflowSetBackup.self) { api, p throws(RPCError) in try api.subflowSetBackup(p) },
        ControlHandler(M.Announce.self) { api, p throws(RPCError) in try api.announce(p) },
        ControlHandler(M.Remove.self) { api, p throws(RPCError) in try api.remove(p) },
        ControlHandler(M.InterfaceNotify.self) { api, p throws(RPCError) in try api.interfaceNotify(p) },
    ]

    /// The handlers by method name.
    static let table: [String: ControlHandler] = Dictionary(
        handlers.map { ($0.definition.name, $0) }, uniquingKeysWith: { first, _ in first })
}
