/// Every decoder of this module, from the raw datagram a socket of it reads to
/// the value it returns: for the fuzz targets (`Tests/Fuzz`), and for tools that
/// replay captured netlink traffic. Whatever the bytes, these return a value or
/// a `DecodeError`; none may trap.
public enum WireDecoding {
    /// A datagram from the `mptcp_pm` event socket, messages of family
    /// `familyID` (others are skipped, as the subscription skips them): each
    /// message's event, or why it does not decode.
    public static func mptcpEvents(_ datagram: [UInt8], familyID: UInt16) -> Result<[Result<Event, DecodeError>], DecodeError> {
        Result { () throws(DecodeError) in
            try NetlinkMessage.parse(datagram).filter { $0.type == familyID }.map { m in
                guard m.payload.count >= 4 else { return .failure(DecodeError("event shorter than a genl header")) }
                return Result { () throws(DecodeError) in try Event(command: m.payload[0], attributes: try parseAttributes(m.payload[4...])) }
            }
        }
    }

    /// A datagram of replies to `mptcp_pm` requests: endpoints (`GET_ADDR`),
    /// limits, and the kernel's errors and acknowledgements with their
    /// extended-ack text.
    public static func mptcpReplies(_ datagram: [UInt8]) -> Result<[String], DecodeError> {
        Result { () throws(DecodeError) in
            var decoded: [String] = []
            for m in try NetlinkMessage.parse(datagram) {
                switch m.type {
                case NL.error: decoded.append("\(try NetlinkStatus(errorMessage: m))")
                case NL.done: decoded.append("\(try NetlinkStatus(doneMessage: m))")
                default:
                    guard m.payload.count >= 4 else { throw DecodeError("reply shorter than a genl header") }
                    let attributes = try parseAttributes(m.payload[4...])
                    decoded.append("\((try? Endpoint(reply: attributes)).map { "\($0)" } ?? "not an endpoint")")
                    decoded.append("\((try? Limits(reply: attributes)).map { "\($0)" } ?? "not limits")")
                }
            }
            return decoded
        }
    }

    /// A datagram of an inet_diag dump, MPTCP (`mptcp: true`) or TCP: the
    /// sockets it lists, joined into connections as `ConnectionTable` joins them.
    public static func sockDiag(_ datagram: [UInt8], mptcp: Bool) -> Result<[Connection], DecodeError> {
        Result { () throws(DecodeError) in
            let sockets = try NetlinkMessage.parse(datagram).filter { $0.type != NL.done && $0.type != NL.error }
                .map { m throws(DecodeError) in try ConnectionTable.DiagSocket(message: m, mptcp: mptcp) }
            let interfaces = InterfaceTable(names: [:], addresses: [])
            return mptcp ? ConnectionTable.assemble(msk: sockets, tcp: [], interfaces: interfaces)
                : ConnectionTable.assemble(msk: [], tcp: sockets, interfaces: interfaces)
        }
    }

    /// A datagram of rtnetlink link, address, route and rule messages (dumps or
    /// notifications): the snapshot the daemon decides from.
    public static func rtnetlink(_ datagram: [UInt8]) -> Result<NetworkSnapshot, DecodeError> {
        Result { () throws(DecodeError) in
            let messages = try NetlinkMessage.parse(datagram)
            return try NetworkSnapshot(linkMessages: messages, addressMessages: messages, routeMessages: messages,
                                       ruleMessages: messages)
        }
    }
}
