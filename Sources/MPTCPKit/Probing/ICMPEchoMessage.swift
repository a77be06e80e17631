/// The ICMP and ICMPv6 messages an echo probe sends and reads, as bytes (pure:
/// `EchoProbeSocket` does the I/O). What arrives is an echo reply, or an error
/// (destination unreachable, time exceeded) quoting the start of the request it
/// answers, whose identifier and sequence say which probe it was.
enum ICMPEchoMessage {
    /// ICMP (RFC 792) and ICMPv6 (RFC 4443) type numbers.
    enum ICMPType {
        static let echoReply: UInt8 = 0
        static let destinationUnreachable: UInt8 = 3
        static let echoRequest: UInt8 = 8
        static let timeExceeded: UInt8 = 11
    }

    enum ICMPv6Type {
        static let destinationUnreachable: UInt8 = 1
        static let timeExceeded: UInt8 = 3
        static let echoRequest: UInt8 = 128
        static let echoReply: UInt8 = 129
    }

    /// `IPPROTO_ICMP` and `IPPROTO_ICMPV6`, as an IP header names the next protocol.
    static let protocolICMP: UInt8 = 1
    static let protocolICMPv6: UInt8 = 58

    /// The request's payload: a fixed tag, so a capture shows who sent it.
    static let payload: [UInt8] = Array("mptcpctl".utf8)

    /// What one received datagram says, before it is matched to a probe.
    struct Received: Hashable, Sendable {
        var kind: ProbeReply.Kind
        var identifier: UInt16
        var sequence: UInt16
        /// For an error: the destination of the quoted request (the probe's target).
        var quotedDestination: IPAddress?
    }

    /// An echo request. IPv4 carries its checksum; for IPv6 it is left 0, as
    /// the kernel computes it for every raw ICMPv6 socket (RFC 3542, 3.1).
    static func request(identifier: UInt16, sequence: UInt16, ipv4: Bool) -> [UInt8] {
        var bytes: [UInt8] = [ipv4 ? ICMPType.echoRequest : ICMPv6Type.echoRequest, 0, 0, 0,
                              UInt8(identifier >> 8), UInt8(identifier & 0xff), UInt8(sequence >> 8), UInt8(sequence & 0xff)]
        bytes += payload
        if ipv4 {
            let sum = checksum(bytes)
            bytes[2] = UInt8(sum >> 8)
            bytes[3] = UInt8(sum & 0xff)
        }
        return bytes
    }

    /// The Internet checksum (RFC 1071): the ones' complement of the ones'
    /// complement sum of the 16-bit big-endian words, an odd last byte padded with 0.
    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count {
            sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
            i += 2
        }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    /// A datagram read from a raw IPv4 ICMP socket (it starts with the IP header);
    /// nil for anything but an echo reply or an error quoting an echo request.
    static func parseIPv4(_ datagram: [UInt8]) -> Received? {
        guard let headerLength = ipv4HeaderLength(datagram), datagram.count >= headerLength + 8 else { return nil }
        let icmp = Array(datagram[headerLength...])
        switch icmp[0] {
        case ICMPType.echoReply:
            return Received(kind: .echoReply, identifier: word(icmp, 4), sequence: word(icmp, 6))
        case ICMPType.destinationUnreachable, ICMPType.timeExceeded:
            // The quoted request: its IP header, then at least 8 bytes of ICMP.
            let quoted = Array(icmp[8...])
            guard let quotedLength = ipv4HeaderLength(quoted), quoted[9] == protocolICMP, quoted.count >= quotedLength + 8,
                  quoted[quotedLength] == ICMPType.echoRequest,
                  let destination = IPAddress(bytes: Array(quoted[16..<20])) else { return nil }
            let kind: ProbeReply.Kind = icmp[0] == ICMPType.timeExceeded ? .timeExceeded : .unreachable(code: icmp[1])
            return Received(kind: kind, identifier: word(quoted, quotedLength + 4), sequence: word(quoted, quotedLength + 6),
                            quotedDestination: destination)
        default:
            return nil
        }
    }

    /// A datagram read from a raw ICMPv6 socket (the ICMPv6 message alone: the
    /// kernel strips the IPv6 header); nil as for `parseIPv4`. A quoted request
    /// with extension headers is not followed (probes send none).
    static func parseIPv6(_ icmp: [UInt8]) -> Received? {
        guard icmp.count >= 8 else { return nil }
        switch icmp[0] {
        case ICMPv6Type.echoReply:
            return Received(kind: .echoReply, identifier: word(icmp, 4), sequence: word(icmp, 6))
        case ICMPv6Type.destinationUnreachable, ICMPv6Type.timeExceeded:
            // The quoted request: the 40-byte IPv6 header, then the echo header.
            let quoted = Array(icmp[8...])
            guard quoted.count >= 48, quoted[0] >> 4 == 6, quoted[6] == protocolICMPv6, quoted[40] == ICMPv6Type.echoRequest,
                  let destination = IPAddress(bytes: Array(quoted[24..<40])) else { return nil }
            let kind: ProbeReply.Kind = icmp[0] == ICMPv6Type.timeExceeded ? .timeExceeded : .unreachable(code: icmp[1])
            return Received(kind: kind, identifier: word(quoted, 44), sequence: word(quoted, 46), quotedDestination: destination)
        default:
            return nil
        }
    }

    /// The length of the IPv4 header `bytes` starts with, when it is one and complete.
    private static func ipv4HeaderLength(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 20, bytes[0] >> 4 == 4 else { return nil }
        let length = Int(bytes[0] & 0x0f) * 4
        return length >= 20 && bytes.count >= length ? length : nil
    }

    private static func word(_ bytes: [UInt8], _ at: Int) -> UInt16 {
        UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])
    }
}
