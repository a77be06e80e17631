import MPTCPKit

/// A fake kernel for the userspace path manager: records every request, answers
/// each from a script (an ack unless a refusal is queued for it), and reports
/// the sock_diag tables it is given. Single-threaded, like the service's calls.
final class FakeUserspacePM: UserspacePathManaging {
    /// One request, as the kernel would have received it.
    enum Request: Hashable {
        case addresses(token: UInt32)
        case announce(token: UInt32, address: Endpoint)
        case remove(token: UInt32, localID: UInt8)
        case create(PathManager.SubflowRequest)
        case destroy(token: UInt32, local: AddressAndPort, remote: AddressAndPort)
        case setBackup(token: UInt32, local: AddressAndPort, remote: AddressAndPort, backup: Bool)
        case connectionTable
        case listenerTable
    }

    private(set) var requests: [Request] = []
    /// Answers for the next subflow creations, in order (an ack once empty).
    var createAnswers: [MPTCPError] = []
    /// Answers for the next destroys, in order (an ack once empty).
    var destroyAnswers: [MPTCPError] = []
    /// What sock_diag shows.
    var table: [Connection] = []
    var listeners: [Listener] = []
    /// Each connection's local addresses (an empty list when not set).
    var addressLists: [UInt32: Result<[Endpoint], MPTCPError>] = [:]

    /// The requests since the last call.
    func take() -> [Request] {
        defer { requests = [] }
        return requests
    }

    /// The kernel's answer to a command on a connection that no longer exists.
    static func invalidToken(_ operation: String) -> MPTCPError {
        MPTCPError(code: .kernel, operation: operation, errno: 22, kernelMessage: "invalid token")
    }

    /// SUBFLOW_CREATE before the MPTCP handshake completed.
    static let notConnected = MPTCPError(code: .kernel, operation: "create subflow", errno: 107)

    /// A refusal the tracker cannot explain otherwise.
    static let refused = MPTCPError(code: .kernel, operation: "create subflow", errno: 99, kernelMessage: "cannot assign address")

    func addresses(token: UInt32) throws(MPTCPError) -> [Endpoint] {
        requests.append(.addresses(token: token))
        return try (addressLists[token] ?? .success([])).get()
    }

    func announce(token: UInt32, address: Endpoint) throws(MPTCPError) {
        requests.append(.announce(token: token, address: address))
    }

    func remove(token: UInt32, localID: UInt8) throws(MPTCPError) {
        requests.append(.remove(token: token, localID: localID))
    }

    func createSubflows(_ requests: [PathManager.SubflowRequest]) throws(MPTCPError) -> [Result<Void, MPTCPError>] {
        requests.map { r in
            self.requests.append(.create(r))
            return createAnswers.isEmpty ? .success(()) : .failure(createAnswers.removeFirst())
        }
    }

    func destroySubflow(token: UInt32, local: AddressAndPort, remote: AddressAndPort) throws(MPTCPError) {
        requests.append(.destroy(token: token, local: local, remote: remote))
        if !destroyAnswers.isEmpty { throw destroyAnswers.removeFirst() }
    }

    func setSubflowBackup(token: UInt32, local: AddressAndPort, remote: AddressAndPort, backup: Bool) throws(MPTCPError) {
        requests.append(.setBackup(token: token, local: local, remote: remote, backup: backup))
    }

    func connectionTable() throws -> [Connection] {
        requests.append(.connectionTable)
        return table
    }

    func listenerTable() throws -> [Listener] {
        requests.append(.listenerTable)
        return listeners
    }
}
