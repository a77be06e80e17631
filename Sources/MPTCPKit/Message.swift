/// One netlink message: header fields and payload (pure Swift, no libnl).
struct NetlinkMessage: Equatable, Sendable {
    var type: UInt16
    var flags: UInt16
    var sequence: UInt32
    var portID: UInt32
    var payload: [UInt8]

    /// Splits a datagram into messages. A header whose length is too short or
    /// runs past the buffer is an error.
    static func parse(_ buffer: [UInt8]) throws(DecodeError) -> [NetlinkMessage] {
        var result: [NetlinkMessage] = []
        var offset = 0
        while buffer.count - offset >= NL.headerLength {
            let length = Int(readLE32(buffer, offset))
            guard length >= NL.headerLength else {
                throw DecodeError("netlink message length \(length) is shorter than its header")
            }
            guard length <= buffer.count - offset else {
                throw DecodeError("netlink message claims \(length) bytes but only \(buffer.count - offset) arrived")
            }
            result.append(NetlinkMessage(
                type: readLE16(buffer, offset + 4),
                flags: readLE16(buffer, offset + 6),
                sequence: readLE32(buffer, offset + 8),
                portID: readLE32(buffer, offset + 12),
                payload: Array(buffer[(offset + NL.headerLength)..<(offset + length)])))
            offset += length + padding(length)
        }
        return result
    }

    /// Serialises the message (for tests and fuzzers).
    var encoded: [UInt8] {
        var bytes = le32(UInt32(NL.headerLength + payload.count))
        bytes += le16(type) + le16(flags) + le32(sequence) + le32(portID) + payload
        bytes += [UInt8](repeating: 0, count: padding(bytes.count))
        return bytes
    }
}

/// The content of an `NLMSG_ERROR` or `NLMSG_DONE` message: an errno (0 = ack)
/// and the kernel's extended acknowledgement.
struct NetlinkStatus: Equatable, Sendable {
    /// Negative errno as the kernel sends it; 0 for success.
    var error: Int32
    var message: String?
    var missingAttribute: UInt32?
    var offset: UInt32?

    init(error: Int32, message: String? = nil, missingAttribute: UInt32? = nil, offset: UInt32? = nil) {
        self.error = error
        self.message = message
        self.missingAttribute = missingAttribute
        self.offset = offset
    }

    /// Decodes `struct nlmsgerr` followed by extack TLVs.
    init(errorMessage m: NetlinkMessage) throws(DecodeError) {
        guard m.payload.count >= 4 + NL.headerLength else {
            throw DecodeError("netlink error message of \(m.payload.count) bytes is truncated")
        }
        error = Int32(bitPattern: readLE32(m.payload, 0))
        var tlvStart = 4 + NL.headerLength
        if m.flags & NL.fCapped == 0 {
            // The whole request is echoed; the TLVs follow it.
            let echoed = Int(readLE32(m.payload, 4))
            guard echoed >= NL.headerLength else { throw DecodeError("echoed request length \(echoed) is invalid") }
            tlvStart = 4 + echoed + padding(echoed)
        }
        if m.flags & NL.fAckTLVs != 0, tlvStart <= m.payload.count {
            try readTLVs(m.payload[tlvStart...])
        }
    }

    /// Decodes the payload of `NLMSG_DONE` (an int, then extack TLVs when flagged).
    init(doneMessage m: NetlinkMessage) throws(DecodeError) {
        error = m.payload.count >= 4 ? Int32(bitPattern: readLE32(m.payload, 0)) : 0
        if m.flags & NL.fAckTLVs != 0, m.payload.count > 4 {
            try readTLVs(m.payload[4...])
        }
    }

    private mutating func readTLVs(_ bytes: ArraySlice<UInt8>) throws(DecodeError) {
        for a in try parseAttributes(Array(bytes)) {
            switch a.type {
            case NL.errAttrMsg: message = a.string()
            case NL.errAttrMissType: missingAttribute = try? a.u32("missing type")
            case NL.errAttrOffset: offset = try? a.u32("offset")
            default: continue
            }
        }
    }
}
