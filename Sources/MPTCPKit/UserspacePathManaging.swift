/// The kernel's userspace path manager, as the daemon's connection service
/// reaches it: the per-connection commands (`mptcp_pm` ANNOUNCE, REMOVE,
/// SUBFLOW_CREATE/DESTROY, SET_FLAGS, GET_ADDR) and the sock_diag tables the
/// events cannot tell. `PathManager` adopts it; tests adopt it with a fake
/// kernel that records requests and answers from a script.
public protocol UserspacePathManaging: AnyObject {
    /// The local addresses (ids, flags) of the connection `token`.
    func addresses(token: UInt32) throws(MPTCPError) -> [Endpoint]
    /// ADD_ADDR of `address` to the peer of `token`.
    func announce(token: UInt32, address: Endpoint) throws(MPTCPError)
    /// RM_ADDR of `localID` to the peer of `token`.
    func remove(token: UInt32, localID: UInt8) throws(MPTCPError)
    /// Subflow creations, sent together: one answer per request, in order.
    func createSubflows(_ requests: [PathManager.SubflowRequest]) throws(MPTCPError) -> [Result<Void, MPTCPError>]
    /// Closes one subflow of `token`.
    func destroySubflow(token: UInt32, local: AddressAndPort, remote: AddressAndPort) throws(MPTCPError)
    /// Marks one subflow of `token` backup or not.
    func setSubflowBackup(token: UInt32, local: AddressAndPort, remote: AddressAndPort, backup: Bool) throws(MPTCPError)
    /// Every MPTCP connection with its subflows (sock_diag).
    func connectionTable() throws -> [Connection]
    /// Every MPTCP listener (sock_diag).
    func listenerTable() throws -> [Listener]
}

extension PathManager: UserspacePathManaging {
    public func connectionTable() throws -> [Connection] {
        try ConnectionTable.read(namespace: namespace)
    }

    public func listenerTable() throws -> [Listener] {
        try ConnectionTable.listeners(namespace: namespace)
    }
}

// The sock_diag records, made by hand: what a fake kernel of the tests reports.

extension Connection {
    /// A connection as sock_diag would report it; `fallback` sets `MPTCP_INFO_FLAG_FALLBACK`.
    public init(token: UInt32, side: ConnectionSide, local: AddressAndPort, remote: AddressAndPort,
                state: TCPState = .established, fallback: Bool = false, subflows: [Subflow] = []) {
        self.init(token: token, side: side, localAddress: local.address, localPort: local.port,
                  remoteAddress: remote.address, remotePort: remote.port, state: state,
                  info: MPTCPInfo(token: token, subflows: UInt8(clamping: max(0, subflows.count - 1)), flags: fallback ? 1 : 0),
                  subflows: subflows)
    }
}

extension MPTCPInfo {
    /// Counters with only the token, the extra subflows and the flags set.
    public init(token: UInt32, subflows: UInt8, flags: UInt32) {
        self.subflows = subflows
        addAddrSignal = 0
        addAddrAccepted = 0
        subflowsMax = 0
        self.flags = flags
        self.token = token
        bytesSent = nil
        bytesReceived = nil
    }
}

extension Subflow {
    /// A subflow of `token` as sock_diag would report it.
    public init(token: UInt32, local: AddressAndPort, remote: AddressAndPort, localID: UInt8, remoteID: UInt8 = 0,
                backup: Bool = false, interfaceIndex: Int32, state: TCPState = .established) {
        self.init(localAddress: local.address, localPort: local.port, remoteAddress: remote.address, remotePort: remote.port,
                  backupLocal: backup, backupRemote: false, localID: localID, remoteID: remoteID,
                  interfaceIndex: interfaceIndex, state: state, token: token)
    }
}
