/// The connection-level figures of `struct mptcp_info` (include/uapi/linux/mptcp.h),
/// as sock_diag reports them for an MPTCP socket (`INET_DIAG_INFO`, what `ss -Mi` shows).
///
/// The struct only grows at its end: the 5.7 layout ends at `mptcpi_rcv_nxt`
/// (40 bytes), 6.18's is 96 bytes. A field the reporting kernel's struct is too
/// short for is nil. Two fields sit in what older kernels call `reserved`
/// (`endpLaminarMax`, `endpFullmeshMax`, 6.18): such a kernel reports 0 there.
/// Times are milliseconds ago, as the kernel gives them.
public struct MPTCPInfo: Hashable, Sendable {
    /// `mptcpi_subflows`: extra subflows (beyond the initial one).
    public var subflows: UInt8
    /// `mptcpi_add_addr_signal`: ADD_ADDRs sent.
    public var addAddrSignal: UInt8
    /// `mptcpi_add_addr_accepted`: ADD_ADDRs of the peer accepted.
    public var addAddrAccepted: UInt8
    /// `mptcpi_subflows_max`: the `subflows` limit.
    public var subflowsMax: UInt8
    /// `mptcpi_add_addr_signal_max`: signal endpoints of the in-kernel PM.
    public var addAddrSignalMax: UInt8 = 0
    /// `mptcpi_add_addr_accepted_max`: the `add_addr_accepted` limit.
    public var addAddrAcceptedMax: UInt8 = 0
    /// `mptcpi_flags` (`MPTCP_INFO_FLAG_*`).
    public var flags: UInt32
    public var token: UInt32
    /// `mptcpi_write_seq`, `mptcpi_snd_una`, `mptcpi_rcv_nxt`: 64-bit data sequence numbers.
    public var writeSequence: UInt64? = nil
    public var sendUnacknowledged: UInt64? = nil
    public var receiveNext: UInt64? = nil
    /// `mptcpi_local_addr_used`, `mptcpi_local_addr_max`: subflow endpoints used and available.
    public var localAddressesUsed: UInt8? = nil
    public var localAddressesMax: UInt8? = nil
    /// `mptcpi_csum_enabled` (5.14).
    public var checksumEnabled: Bool? = nil
    /// `mptcpi_retransmits`: MPTCP-level retransmissions (6.5), and their bytes.
    public var retransmits: UInt32? = nil
    public var bytesRetransmitted: UInt64? = nil
    /// `mptcpi_bytes_sent`, `mptcpi_bytes_received`, `mptcpi_bytes_acked` (6.5): data-level bytes.
    public var bytesSent: UInt64? = nil
    public var bytesReceived: UInt64? = nil
    public var bytesAcked: UInt64? = nil
    /// `mptcpi_subflows_total`: every subflow, the initial one included (6.6).
    public var subflowsTotal: UInt8? = nil
    /// `mptcpi_endp_laminar_max`, `mptcpi_endp_fullmesh_max` (6.18; 0 from older kernels).
    public var endpointsLaminarMax: UInt8? = nil
    public var endpointsFullmeshMax: UInt8? = nil
    /// `mptcpi_last_data_sent`, `mptcpi_last_data_recv`, `mptcpi_last_ack_recv`, ms ago (6.10).
    public var lastDataSentMilliseconds: UInt32? = nil
    public var lastDataReceivedMilliseconds: UInt32? = nil
    public var lastAckReceivedMilliseconds: UInt32? = nil

    /// `MPTCP_INFO_FLAG_FALLBACK`: the connection fell back to plain TCP.
    public var fellBack: Bool { flags & 1 != 0 }
    /// `MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED`.
    public var remoteKeyReceived: Bool { flags & 2 != 0 }

    /// Byte offsets in the 6.18 `struct mptcp_info` (checked with `offsetof`).
    enum Offset {
        static let flags = 8, token = 12, writeSequence = 16, sendUnacknowledged = 24, receiveNext = 32
        static let localAddressesUsed = 40, localAddressesMax = 41, checksumEnabled = 42, retransmits = 44
        static let bytesRetransmitted = 48, bytesSent = 56, bytesReceived = 64, bytesAcked = 72, subflowsTotal = 80
        static let endpointsLaminarMax = 81, endpointsFullmeshMax = 82, lastDataSent = 84, lastDataReceived = 88
        static let lastAckReceived = 92
    }

    /// Decodes `struct mptcp_info` of any length from 16 bytes (up to the token) on.
    init(bytes b: [UInt8]) throws(DecodeError) {
        guard b.count >= 16 else { throw DecodeError("mptcp_info of \(b.count) bytes is truncated") }
        subflows = b[0]
        addAddrSignal = b[1]
        addAddrAccepted = b[2]
        subflowsMax = b[3]
        addAddrSignalMax = b[4]
        addAddrAcceptedMax = b[5]
        flags = readLE32(b, Offset.flags)
        token = readLE32(b, Offset.token)
        func u8(_ at: Int) -> UInt8? { b.count > at ? b[at] : nil }
        func u32(_ at: Int) -> UInt32? { b.count >= at + 4 ? readLE32(b, at) : nil }
        func u64(_ at: Int) -> UInt64? { b.count >= at + 8 ? readLE64(b, at) : nil }
        writeSequence = u64(Offset.writeSequence)
        sendUnacknowledged = u64(Offset.sendUnacknowledged)
        receiveNext = u64(Offset.receiveNext)
        localAddressesUsed = u8(Offset.localAddressesUsed)
        localAddressesMax = u8(Offset.localAddressesMax)
        checksumEnabled = u8(Offset.checksumEnabled).map { $0 != 0 }
        retransmits = u32(Offset.retransmits)
        bytesRetransmitted = u64(Offset.bytesRetransmitted)
        bytesSent = u64(Offset.bytesSent)
        bytesReceived = u64(Offset.bytesReceived)
        bytesAcked = u64(Offset.bytesAcked)
        subflowsTotal = u8(Offset.subflowsTotal)
        endpointsLaminarMax = u8(Offset.endpointsLaminarMax)
        endpointsFullmeshMax = u8(Offset.endpointsFullmeshMax)
        lastDataSentMilliseconds = u32(Offset.lastDataSent)
        lastDataReceivedMilliseconds = u32(Offset.lastDataReceived)
        lastAckReceivedMilliseconds = u32(Offset.lastAckReceived)
    }
}
