import MPTCPKit

/// A connection's MPTCP-level figures, from the kernel's `struct mptcp_info`
/// (what `ss -Mi` shows): the `mptcp` object of a connection in `connections`,
/// each member left out when the kernel did not report it. The 64-bit data
/// sequence numbers are decimal strings (past JSON's exact integers).
public struct MPTCPFigures: ControlRecord {
    public var subflows: UInt64?
    public var subflowsMax: UInt64?
    public var subflowsTotal: UInt64?
    public var addAddrSignal: UInt64?
    public var addAddrAccepted: UInt64?
    public var addAddrSignalMax: UInt64?
    public var addAddrAcceptedMax: UInt64?
    public var localAddressesUsed: UInt64?
    public var localAddressesMax: UInt64?
    public var endpointsLaminarMax: UInt64?
    public var endpointsFullmeshMax: UInt64?
    public var bytesSent: UInt64?
    public var bytesReceived: UInt64?
    public var bytesAcked: UInt64?
    public var bytesRetransmitted: UInt64?
    public var retransmits: UInt64?
    public var lastSendMilliseconds: UInt64?
    public var lastReceiveMilliseconds: UInt64?
    public var lastAckMilliseconds: UInt64?
    public var fallback: Bool?
    public var remoteKeyReceived: Bool?
    public var checksumEnabled: Bool?
    public var writeSequence: UInt64?
    public var sendUnacknowledged: UInt64?
    public var receiveNext: UInt64?

    /// No figures.
    public init() {}

    /// The figures of the kernel's `mptcp_info`.
    public init(_ i: MPTCPInfo) {
        subflows = UInt64(i.subflows)
        subflowsMax = UInt64(i.subflowsMax)
        subflowsTotal = i.subflowsTotal.map(UInt64.init)
        addAddrSignal = UInt64(i.addAddrSignal)
        addAddrAccepted = UInt64(i.addAddrAccepted)
        addAddrSignalMax = UInt64(i.addAddrSignalMax)
        addAddrAcceptedMax = UInt64(i.addAddrAcceptedMax)
        localAddressesUsed = i.localAddressesUsed.map(UInt64.init)
        localAddressesMax = i.localAddressesMax.map(UInt64.init)
        endpointsLaminarMax = i.endpointsLaminarMax.map(UInt64.init)
        endpointsFullmeshMax = i.endpointsFullmeshMax.map(UInt64.init)
        bytesSent = i.bytesSent
        bytesReceived = i.bytesReceived
        bytesAcked = i.bytesAcked
        bytesRetransmitted = i.bytesRetransmitted
        retransmits = i.retransmits.map(UInt64.init)
        lastSendMilliseconds = i.lastDataSentMilliseconds.map(UInt64.init)
        lastReceiveMilliseconds = i.lastDataReceivedMilliseconds.map(UInt64.init)
        lastAckMilliseconds = i.lastAckReceivedMilliseconds.map(UInt64.init)
        fallback = i.fellBack
        remoteKeyReceived = i.remoteKeyReceived
        checksumEnabled = i.checksumEnabled
        writeSequence = i.writeSequence
        sendUnacknowledged = i.sendUnacknowledged
        receiveNext = i.receiveNext
    }

    /// The counters' JSON members, in the order `mptcpctl connections -v` prints them.
    public static var counters: [(key: String, figure: WritableKeyPath<MPTCPFigures, UInt64?>)] {
        [("subflows", \.subflows), ("subflows_max", \.subflowsMax), ("subflows_total", \.subflowsTotal),
         ("add_addr_signal", \.addAddrSignal), ("add_addr_accepted", \.addAddrAccepted),
         ("add_addr_signal_max", \.addAddrSignalMax), ("add_addr_accepted_max", \.addAddrAcceptedMax),
         ("local_addr_used", \.localAddressesUsed), ("local_addr_max", \.localAddressesMax),
         ("endp_laminar_max", \.endpointsLaminarMax), ("endp_fullmesh_max", \.endpointsFullmeshMax),
         ("bytes_sent", \.bytesSent), ("bytes_received", \.bytesReceived), ("bytes_acked", \.bytesAcked),
         ("bytes_retrans", \.bytesRetransmitted), ("retransmits", \.retransmits),
         ("last_send_ms", \.lastSendMilliseconds), ("last_receive_ms", \.lastReceiveMilliseconds),
         ("last_ack_ms", \.lastAckMilliseconds)]
    }

    public static var flags: [(key: String, figure: WritableKeyPath<MPTCPFigures, Bool?>)] {
        [("fallback", \.fallback), ("remote_key_received", \.remoteKeyReceived), ("csum_enabled", \.checksumEnabled)]
    }

    public static var sequences: [(key: String, figure: WritableKeyPath<MPTCPFigures, UInt64?>)] {
        [("write_seq", \.writeSequence), ("snd_una", \.sendUnacknowledged), ("rcv_nxt", \.receiveNext)]
    }

    public var json: JSONValue {
        var members: [String: JSONValue] = [:]
        for (key, figure) in Self.counters { if let v = self[keyPath: figure].flatMap(jsonInteger) { members[key] = v } }
        for (key, figure) in Self.flags { if let v = self[keyPath: figure] { members[key] = .bool(v) } }
        for (key, figure) in Self.sequences { if let v = self[keyPath: figure] { members[key] = .string(String(v)) } }
        return .object(members)
    }

    public init(json: JSONValue) throws(RPCError) {
        let r = try RecordReader(json, "mptcp")
        for (key, figure) in Self.counters { self[keyPath: figure] = try r.optionalInteger(key, as: UInt64.self) }
        for (key, figure) in Self.flags {
            guard let v = r.members[key], v != .null else { continue }
            self[keyPath: figure] = try r.bool(key)
        }
        for (key, figure) in Self.sequences {
            guard let text = try r.optionalString(key) else { continue }
            guard let v = UInt64(text) else { throw r.wrong(key, "a decimal 64-bit sequence number") }
            self[keyPath: figure] = v
        }
    }

    /// `key:value` for each reported figure, as `ss -Mi` words them.
    public var words: [String] {
        Self.counters.compactMap { key, figure in self[keyPath: figure].map { "\(key):\($0)" } }
            + Self.flags.compactMap { key, figure in self[keyPath: figure].map { "\(key):\($0)" } }
            + Self.sequences.compactMap { key, figure in self[keyPath: figure].map { "\(key):\($0)" } }
    }
}
