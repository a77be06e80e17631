import NIOConcurrencyHelpers
import Synchronization
import Glibc

/// The typed API of the `mptcp_pm` generic-netlink family: endpoints and limits
/// of the in-kernel path manager, and the userspace path manager's per-connection
/// commands.
///
/// Requests go over a socket of their own (events use `EventSubscription`). The
/// socket is guarded by a mutex, so one `PathManager` may be shared by tasks;
/// requests are serialised.
public final class PathManager: @unchecked Sendable {
    /// Every use of `socket` holds `lock` (a pthread mutex: ThreadSanitizer
    /// follows it, where Synchronization.Mutex's contended path is invisible to it).
    private let lock = NIOLock()
    private let socket: NetlinkSocket
    private let familyID: Int32
    /// The namespace the socket was opened in.
    public let namespace: NetworkNamespace

    /// Opens a request socket in `namespace` and resolves the `mptcp_pm` family.
    public init(namespace: NetworkNamespace = .current) throws(MPTCPError) {
        let (sock, family) = try namespace.perform { () throws(MPTCPError) -> (NetlinkSocket, Int32) in
            let sock = try NetlinkSocket(protocol: NL.protoGeneric)
            return (sock, try sock.resolveFamily(MPTCPFamily.name))
        }
        self.socket = sock
        self.familyID = family
        self.namespace = namespace
    }

    // MARK: Endpoints (in-kernel path manager)

    /// `MPTCP_PM_CMD_GET_ADDR` dump: every endpoint of the namespace, ordered by id.
    public func endpoints() throws(MPTCPError) -> [Endpoint] {
        try request(.getAddress, dump: true, "list endpoints") { _ in }.map { attrs throws(MPTCPError) in
            try decode("list endpoints") { () throws(DecodeError) in try Endpoint(reply: attrs) }
        }
    }

    /// `MPTCP_PM_CMD_GET_ADDR`: one endpoint by id.
    public func endpoint(id: UInt8) throws(MPTCPError) -> Endpoint {
        let op = "show endpoint \(id)"
        let replies = try request(.getAddress, op) { w in
            AddressNest(id: id).write(&w, as: PMAttr.addr)
        }
        guard let first = replies.first else {
            throw .protocolViolation(op, "the kernel sent no endpoint")
        }
        return try decode(op) { () throws(DecodeError) in try Endpoint(reply: first) }
    }

    /// `MPTCP_PM_CMD_ADD_ADDR`. An id of 0 lets the kernel pick one.
    public func addEndpoint(_ endpoint: Endpoint) throws(MPTCPError) {
        _ = try request(.addAddress, "add endpoint \(endpoint.address)") { w in
            endpoint.nest.write(&w, as: PMAttr.addr)
        }
    }

    /// `MPTCP_PM_CMD_DEL_ADDR` by id: removes the endpoint, sends RM_ADDR and closes
    /// its subflows on kernel-PM connections.
    public func deleteEndpoint(id: UInt8) throws(MPTCPError) {
        _ = try request(.deleteAddress, "delete endpoint \(id)") { w in
            AddressNest(id: id).write(&w, as: PMAttr.addr)
        }
    }

    /// `MPTCP_PM_CMD_FLUSH_ADDRS`: removes every endpoint.
    public func flushEndpoints() throws(MPTCPError) {
        _ = try request(.flushAddresses, "flush endpoints") { _ in }
    }

    /// `MPTCP_PM_CMD_SET_FLAGS` without a token: changes `backup` and `fullmesh`
    /// of an endpoint (the kernel ignores other bits) and propagates them to
    /// existing kernel-PM connections.
    public func setEndpointFlags(id: UInt8, flags: EndpointFlags) throws(MPTCPError) {
        _ = try request(.setFlags, "set flags of endpoint \(id)") { w in
            AddressNest(id: id, flags: flags).write(&w, as: PMAttr.addr)
        }
    }

    /// The id of the endpoint with this address (and port, when non-zero).
    public func endpointID(for address: IPAddress, port: UInt16 = 0) throws(MPTCPError) -> UInt8 {
        let matches = try endpoints().filter { $0.address == address && (port == 0 || $0.port == port) }
        guard let match = matches.first else {
            throw .notFound("find endpoint \(AddressAndPort(address: address, port: port))", "no endpoint has this address",
                            hint: "list them with 'mptcpctl endpoint show'")
        }
        return match.id
    }

    // MARK: Limits

    /// `MPTCP_PM_CMD_GET_LIMITS`
    public func limits() throws(MPTCPError) -> Limits {
        let replies = try request(.getLimits, "show limits") { _ in }
        guard let first = replies.first else {
            throw .protocolViolation("show limits", "the kernel sent no limits")
        }
        return try decode("show limits") { () throws(DecodeError) in try Limits(reply: first) }
    }

    /// `MPTCP_PM_CMD_SET_LIMITS`; a nil value is left unchanged.
    public func setLimits(subflows: UInt32? = nil, addAddrAccepted: UInt32? = nil) throws(MPTCPError) {
        _ = try request(.setLimits, "set limits") { w in
            if let addAddrAccepted { w.putU32(PMAttr.rcvAddAddrs, addAddrAccepted) }
            if let subflows { w.putU32(PMAttr.subflows, subflows) }
        }
    }

    // MARK: Userspace path manager

    /// `MPTCP_PM_CMD_GET_ADDR` dump with a token: the local addresses the
    /// connection knows, with their per-connection ids (id 0, the initial
    /// address, is not listed). An unknown token gives an empty list.
    public func addresses(token: UInt32) throws(MPTCPError) -> [Endpoint] {
        let op = "list addresses of connection \(formatToken(token))"
        return try request(.getAddress, dump: true, op) { w in
            w.putU32(PMAttr.token, token)
        }.map { attrs throws(MPTCPError) in
            try decode(op) { () throws(DecodeError) in try Endpoint(reply: attrs) }
        }
    }

    /// `MPTCP_PM_CMD_ANNOUNCE`: sends ADD_ADDR for `address` (id 1...255) on the
    /// connection. The `signal` flag is added as the kernel requires it.
    public func announce(token: UInt32, address: Endpoint) throws(MPTCPError) {
        _ = try request(.announce, "announce \(address.address) id \(address.id) on \(formatToken(token))") { w in
            w.putU32(PMAttr.token, token)
            var nest = address.nest
            nest.flags = address.flags.union(.signal)
            nest.write(&w, as: PMAttr.addr)
        }
    }

    /// `MPTCP_PM_CMD_REMOVE`: sends RM_ADDR for a local id and closes the subflows using it.
    public func remove(token: UInt32, localID: UInt8) throws(MPTCPError) {
        _ = try request(.remove, "remove id \(localID) from \(formatToken(token))") { w in
            w.putU32(PMAttr.token, token)
            w.putU8(PMAttr.locID, localID)
        }
    }

    /// `MPTCP_PM_CMD_SUBFLOW_CREATE`: starts a join from `local` (with its
    /// per-connection id; `backup` flag and interface index honoured) to
    /// `remote`, which must carry the peer's port. The kernel acks when the SYN
    /// is sent; the outcome arrives as a SUB_ESTABLISHED or SUB_CLOSED event.
    public func createSubflow(token: UInt32, local: Endpoint, remote: AddressAndPort) throws(MPTCPError) {
        let r = SubflowRequest(token: token, local: local, remote: remote)
        if let refusal = Self.subflowCreateRefusal(r) { throw refusal }
        _ = try request(.subflowCreate, Self.subflowCreateOperation(r)) { w in
            w.append(encoded: Self.subflowCreatePayload(r))
        }
    }

    /// One subflow-create request of `createSubflows`.
    public struct SubflowRequest: Sendable, Hashable {
        public var token: UInt32
        public var local: Endpoint
        public var remote: AddressAndPort

        public init(token: UInt32, local: Endpoint, remote: AddressAndPort) {
            self.token = token
            self.local = local
            self.remote = remote
        }
    }

    /// `MPTCP_PM_CMD_SUBFLOW_CREATE` for many subflows at once: the requests go
    /// out packed into datagrams of up to 64 (one send instead of one per
    /// subflow) and each gets the outcome `createSubflow` would have given it,
    /// in order. Throws only when the socket itself fails.
    public func createSubflows(_ requests: [SubflowRequest]) throws(MPTCPError) -> [Result<Void, MPTCPError>] {
        var results = [Result<Void, MPTCPError>](repeating: .success(()), count: requests.count)
        var payloads: [[UInt8]] = []
        var sentIndex: [Int] = []
        for (i, r) in requests.enumerated() {
            if let refusal = Self.subflowCreateRefusal(r) {
                results[i] = .failure(refusal)
                continue
            }
            payloads.append(Self.subflowCreatePayload(r))
            sentIndex.append(i)
        }
        lock.lock()
        let statuses: [NetlinkStatus?]
        do {
            defer { lock.unlock() }
            statuses = try socket.transactBatch(type: familyID, genlCommand: Command.subflowCreate.rawValue, payloads: payloads,
                                                operation: "create \(payloads.count) subflows")
        }
        for (k, status) in statuses.enumerated() {
            guard let status else { continue }
            let r = requests[sentIndex[k]]
            results[sentIndex[k]] = .failure(.kernel(Self.subflowCreateOperation(r), status))
        }
        return results
    }

    private static func subflowCreateOperation(_ r: SubflowRequest) -> String {
        "create subflow \(r.local.address) -> \(r.remote) on \(formatToken(r.token))"
    }

    private static func subflowCreateRefusal(_ r: SubflowRequest) -> MPTCPError? {
        if r.remote.port == 0 {
            return .invalidArgument(subflowCreateOperation(r), "the remote port is required")
        }
        if r.local.address.family != r.remote.address.family {
            return .invalidArgument(subflowCreateOperation(r), "local and remote address families differ")
        }
        return nil
    }

    private static func subflowCreatePayload(_ r: SubflowRequest) -> [UInt8] {
        var w = AttributeWriter()
        w.putU32(PMAttr.token, r.token)
        var nest = r.local.nest
        nest.flags = r.local.flags.intersection(.backup)
        nest.write(&w, as: PMAttr.addr)
        AddressNest(family: r.remote.address.family, address: r.remote.address, port: r.remote.port)
            .write(&w, as: PMAttr.addrRemote)
        return w.bytes
    }

    /// `MPTCP_PM_CMD_SUBFLOW_DESTROY`: closes the subflow with exactly this 4-tuple.
    public func destroySubflow(token: UInt32, local: AddressAndPort, remote: AddressAndPort) throws(MPTCPError) {
        let op = "destroy subflow \(local) -> \(remote) on \(formatToken(token))"
        guard local.port != 0, remote.port != 0 else {
            throw .invalidArgument(op, "both ports are required (see 'mptcpctl connections')")
        }
        guard local.address.family == remote.address.family else {
            throw .invalidArgument(op, "local and remote address families differ")
        }
        _ = try request(.subflowDestroy, op) { w in
            w.putU32(PMAttr.token, token)
            AddressNest(family: local.address.family, address: local.address, port: local.port).write(&w, as: PMAttr.addr)
            AddressNest(family: remote.address.family, address: remote.address, port: remote.port).write(&w, as: PMAttr.addrRemote)
        }
    }

    /// `MPTCP_PM_CMD_SET_FLAGS` with a token: marks the first subflow matching
    /// the addresses (ports compared when non-zero) as backup or not; sends MP_PRIO.
    public func setSubflowBackup(token: UInt32, local: AddressAndPort, remote: AddressAndPort, backup: Bool) throws(MPTCPError) {
        let op = "set \(backup ? "backup" : "nobackup") on subflow \(local) -> \(remote) of \(formatToken(token))"
        guard local.address.family == remote.address.family else {
            throw .invalidArgument(op, "local and remote address families differ")
        }
        _ = try request(.setFlags, op) { w in
            w.putU32(PMAttr.token, token)
            AddressNest(family: local.address.family, address: local.address, port: local.port == 0 ? nil : local.port,
                        flags: backup ? .backup : []).write(&w, as: PMAttr.addr)
            AddressNest(family: remote.address.family, address: remote.address, port: remote.port == 0 ? nil : remote.port)
                .write(&w, as: PMAttr.addrRemote)
        }
    }

    /// The id to use for `address` on a userspace-PM connection: the id the kernel
    /// already bound to it on that connection, else the lowest id no address uses.
    public func localID(token: UInt32, for address: IPAddress) throws(MPTCPError) -> UInt8 {
        let known = try addresses(token: token)
        return try chooseLocalID(for: address, known: known, token: token)
    }

    // MARK: Plumbing

    private func request(_ command: Command, dump: Bool = false, _ operation: String,
                         _ build: (inout AttributeWriter) -> Void) throws(MPTCPError) -> [[NetlinkAttribute]] {
        var writer = AttributeWriter()
        build(&writer)
        let payload = writer.bytes
        lock.lock()
        let messages: [NetlinkMessage]
        do {
            defer { lock.unlock() }
            messages = try socket.transact(type: familyID, flags: dump ? NL.fDump : 0, genlCommand: command.rawValue,
                                           payload: payload, operation: operation)
        }
        return try messages.map { m throws(MPTCPError) in
            guard m.payload.count >= 4 else {
                throw .protocolViolation(operation, "reply shorter than a genl header")
            }
            return try decode(operation) { () throws(DecodeError) in try parseAttributes(m.payload[4...]) }
        }
    }
}

/// Picks a per-connection local id (pure, so it is unit-tested): reuse the id
/// bound to the address, else the lowest free one in 1...255.
func chooseLocalID(for address: IPAddress, known: [Endpoint], token: UInt32) throws(MPTCPError) -> UInt8 {
    if let bound = known.first(where: { $0.address == address }) { return bound.id }
    let used = Set(known.map(\.id))
    guard let free = AddressID.lowestFree(excluding: used) else {
        throw .invalidArgument("choose a local id on \(formatToken(token))", "all 255 ids are in use")
    }
    return free
}

func decode<T>(_ operation: String, _ body: () throws(DecodeError) -> T) throws(MPTCPError) -> T {
    do { return try body() } catch {
        throw .protocolViolation(operation, "malformed kernel reply: \(error.description)")
    }
}

/// A token as `ip mptcp monitor` prints it: 8 lowercase hex digits.
public func formatToken(_ token: UInt32) -> String {
    let hex = String(token, radix: 16)
    return String(repeating: "0", count: max(0, 8 - hex.count)) + hex
}

/// Parses a token written as 8-digit hex (`ip mptcp monitor` form) or `0x`-prefixed hex.
public func parseToken(_ text: String) -> UInt32? {
    var digits = Substring(text)
    if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
    guard !digits.isEmpty, digits.count <= 8, digits.allSatisfy(\.isHexDigit) else { return nil }
    return UInt32(digits, radix: 16)
}
