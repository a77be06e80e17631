import Glibc
import MPTCPKit
@testable import MPTCPDaemon

/// A kernel in memory (one test's thread at a time, as the reconciler's owner
/// serialises its calls) for the daemon's unit tests (the idea of Go's
/// `nltest.Dial`): holds an endpoint table, limits, sysctls and a network;
/// records every request in order; answers each with an ack, or with the
/// refusal a test scripted for it. `beforeEach` lets a test act at the moment a
/// request arrives (a crash, someone else's change), as a race would.
final class FakeKernel: EndpointOperations, NetworkSnapshotSource, SysctlOperations, @unchecked Sendable {
    /// One request, as the daemon made it.
    enum Request: Hashable, CustomStringConvertible {
        case listEndpoints
        case add(id: UInt8, address: String, flags: [String])
        case delete(id: UInt8)
        case setFlags(id: UInt8, flags: [String])
        case getLimits
        case setLimits(subflows: UInt32?, addAddrAccepted: UInt32?)
        case readNetwork
        case getPathManager, setPathManager(String)
        case getScheduler, setScheduler(String)

        var description: String {
            switch self {
            case .listEndpoints: "list"
            case .add(let id, let address, let flags): "add \(id) \(address) \(flags.joined(separator: ","))"
            case .delete(let id): "delete \(id)"
            case .setFlags(let id, let flags): "set_flags \(id) \(flags.joined(separator: ","))"
            case .getLimits: "get_limits"
            case .setLimits(let s, let a): "set_limits \(s.map(String.init) ?? "-") \(a.map(String.init) ?? "-")"
            case .readNetwork: "read_network"
            case .getPathManager: "get_path_manager"
            case .setPathManager(let name): "set_path_manager \(name)"
            case .getScheduler: "get_scheduler"
            case .setScheduler(let name): "set_scheduler \(name)"
            }
        }

        /// Whether the request changes the kernel.
        var isChange: Bool {
            switch self {
            case .add, .delete, .setFlags, .setLimits, .setPathManager, .setScheduler: true
            default: false
            }
        }
    }

    private var _endpoints: [Endpoint] = []
    private var _requests: [Request] = []
    private var refusals: [(matches: (Request) -> Bool, error: MPTCPError, remaining: Int)] = []
    var limitsValue = Limits(subflows: 2, addAddrAccepted: 0)
    var pathManagerName = "kernel"
    var schedulerName = "default"
    var network = NetworkSnapshot(links: [], addresses: [], defaultRoutes: [])
    /// Called with each request before it is answered .
    var beforeEach: ((Request) throws(MPTCPError) -> Void)?

    init(endpoints: [Endpoint] = []) { _endpoints = endpoints }

    /// The endpoint table now, by id.
    var table: [Endpoint] { _endpoints.sorted { $0.id < $1.id } }
    /// Every request so far, in order.
    var requests: [Request] { _requests }
    /// The requests that changed (or tried to change) the kernel.
    var changes: [Request] { requests.filter(\.isChange) }
    func clearRequests() { _requests = [] }

    /// Someone else's endpoint (or one left from earlier), straight into the table.
    func insert(_ endpoint: Endpoint) { _endpoints.append(endpoint) }
    func removeEndpoint(id: UInt8) { _endpoints.removeAll { $0.id == id } }

    /// The next `times` requests that `matches` picks are refused with `error`.
    func refuse(_ error: MPTCPError, times: Int = 1, when matches: @escaping (Request) -> Bool) {
        refusals.append((matches, error, times))
    }

    /// The kernel's words for a duplicate endpoint (`-EEXIST` is what 6.18 says).
    static func duplicate(_ operation: String) -> MPTCPError {
        MPTCPError(code: .kernel, operation: operation, errno: EEXIST, kernelMessage: "duplicate address")
    }

    /// The kernel's answer to an id it does not have.
    static func notFound(_ operation: String) -> MPTCPError {
        MPTCPError(code: .kernel, operation: operation, errno: EINVAL, kernelMessage: "address not found")
    }

    private func receive(_ request: Request) throws(MPTCPError) {
        _requests.append(request)
        try beforeEach?(request)
        let refusal: MPTCPError? = {
            guard let i = refusals.firstIndex(where: { $0.remaining > 0 && $0.matches(request) }) else { return nil }
            refusals[i].remaining -= 1
            return refusals[i].error
        }()
        if let refusal { throw refusal }
    }

    func endpoints() throws(MPTCPError) -> [Endpoint] {
        try receive(.listEndpoints)
        return table
    }

    func addEndpoint(_ endpoint: Endpoint) throws(MPTCPError) {
        try receive(.add(id: endpoint.id, address: endpoint.address.description, flags: endpoint.flags.names))
        let taken = _endpoints.contains { $0.id == endpoint.id || $0.address == endpoint.address }
        if taken { throw Self.duplicate("add endpoint \(endpoint.address)") }
        _endpoints.append(endpoint)
    }

    func deleteEndpoint(id: UInt8) throws(MPTCPError) {
        try receive(.delete(id: id))
        guard let i = _endpoints.firstIndex(where: { $0.id == id }) else { throw Self.notFound("delete endpoint \(id)") }
        _endpoints.remove(at: i)
    }

    func setEndpointFlags(id: UInt8, flags: EndpointFlags) throws(MPTCPError) {
        try receive(.setFlags(id: id, flags: flags.names))
        guard let i = _endpoints.firstIndex(where: { $0.id == id }) else { throw Self.notFound("set flags of endpoint \(id)") }
        _endpoints[i].flags = flags
    }

    func limits() throws(MPTCPError) -> Limits {
        try receive(.getLimits)
        return limitsValue
    }

    func setLimits(subflows: UInt32?, addAddrAccepted: UInt32?) throws(MPTCPError) {
        try receive(.setLimits(subflows: subflows, addAddrAccepted: addAddrAccepted))
        if let subflows { limitsValue.subflows = subflows }
        if let addAddrAccepted { limitsValue.addAddrAccepted = addAddrAccepted }
    }

    func read() throws(MPTCPError) -> NetworkSnapshot {
        try receive(.readNetwork)
        return network
    }

    func pathManager() throws -> String {
        try receive(.getPathManager)
        return pathManagerName
    }

    func setPathManager(_ name: String) throws {
        try receive(.setPathManager(name))
        pathManagerName = name
    }

    func scheduler() throws -> String {
        try receive(.getScheduler)
        return schedulerName
    }

    func setScheduler(_ name: String) throws {
        try receive(.setScheduler(name))
        schedulerName = name
    }

    /// The reconciler's view of this kernel.
    var endpointKernel: EndpointKernel { EndpointKernel(endpoints: self, network: self, sysctl: self) }
}
