import Testing
@testable import MPTCPKit

/// The bytes of echo probes: requests with the right checksum, and answers
/// (echo replies, errors quoting the request) parsed to identifier and sequence.
@Suite struct ICMPEchoMessageTests {
    typealias M = ICMPEchoMessage

    @Test func theChecksumOfRFC1071sExampleAndOfAnOddLength() {
        // RFC 1071 4.1's example words 0001 f203 f4f5 f6f7 sum to ddf2 (before the complement).
        #expect(M.checksum([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]) == ~UInt16(0xddf2))
        // An odd byte counts as the high byte of a last word.
        #expect(M.checksum([0x01]) == ~UInt16(0x0100))
    }

    @Test func anIPv4RequestChecksumsToZeroAndCarriesIdentifierAndSequence() {
        let request = M.request(identifier: 0xbeef, sequence: 0x0102, ipv4: true)
        #expect(request[0] == 8)
        #expect(Array(request[4..<8]) == [0xbe, 0xef, 0x01, 0x02])
        // A message with its checksum in place sums to 0xffff: its checksum is 0.
        #expect(M.checksum(request) == 0)
    }

    @Test func anIPv6RequestLeavesTheChecksumToTheKernel() {
        let request = M.request(identifier: 7, sequence: 9, ipv4: false)
        #expect(request[0] == 128)
        #expect(request[2] == 0 && request[3] == 0)
    }

    static func ipv4Header(protocol proto: UInt8 = 1, source: [UInt8], destination: [UInt8]) -> [UInt8] {
        [0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0] + source + destination
    }

    @Test func anIPv4EchoReplyIsParsedAfterItsIPHeader() {
        var reply = M.request(identifier: 0x1234, sequence: 5, ipv4: true)
        reply[0] = 0
        let parsed = M.parseIPv4(Self.ipv4Header(source: [10, 1, 1, 1], destination: [10, 1, 1, 2]) + reply)
        #expect(parsed == M.Received(kind: .echoReply, identifier: 0x1234, sequence: 5))
    }

    @Test func anIPv4UnreachableFromARouterNamesTheQuotedRequest() {
        let quoted = Self.ipv4Header(source: [10, 1, 1, 2], destination: [10, 3, 0, 1])
            + Array(M.request(identifier: 0x1234, sequence: 6, ipv4: true).prefix(8))
        let error: [UInt8] = [3, 1, 0, 0, 0, 0, 0, 0] + quoted
        let parsed = M.parseIPv4(Self.ipv4Header(source: [10, 1, 1, 1], destination: [10, 1, 1, 2]) + error)
        #expect(parsed == M.Received(kind: .unreachable(code: 1), identifier: 0x1234, sequence: 6,
                                     quotedDestination: IPAddress("10.3.0.1")))
        var exceeded = error
        exceeded[0] = 11
        #expect(M.parseIPv4(Self.ipv4Header(source: [10, 1, 1, 1], destination: [10, 1, 1, 2]) + exceeded)?.kind == .timeExceeded)
    }

    @Test func errorsQuotingAnythingButAnEchoRequestAndTruncatedDatagramsAreDropped() {
        // A quoted UDP datagram (protocol 17): not a probe's.
        let udp = Self.ipv4Header(protocol: 17, source: [10, 1, 1, 2], destination: [10, 3, 0, 1]) + [UInt8](repeating: 0, count: 8)
        #expect(M.parseIPv4(Self.ipv4Header(source: [10, 1, 1, 1], destination: [10, 1, 1, 2]) + [3, 3, 0, 0, 0, 0, 0, 0] + udp) == nil)
        // An echo request (another host pinging us) is no answer.
        #expect(M.parseIPv4(Self.ipv4Header(source: [10, 1, 1, 1], destination: [10, 1, 1, 2])
                            + M.request(identifier: 1, sequence: 1, ipv4: true)) == nil)
        // Any prefix of a valid error parses to nil or to the whole answer, never traps.
        let full = Self.ipv4Header(source: [10, 1, 1, 1], destination: [10, 1, 1, 2]) + [3, 1, 0, 0, 0, 0, 0, 0]
            + Self.ipv4Header(source: [10, 1, 1, 2], destination: [10, 3, 0, 1]) + Array(M.request(identifier: 2, sequence: 3, ipv4: true).prefix(8))
        for length in 0..<full.count { #expect(M.parseIPv4(Array(full.prefix(length))) == nil) }
        #expect(M.parseIPv6([]) == nil)
        #expect(M.parseIPv6([129, 0, 0]) == nil)
        // A header length field past the datagram.
        #expect(M.parseIPv4([0x4f] + [UInt8](repeating: 0, count: 30)) == nil)
    }

    @Test func anIPv6EchoReplyAndAnUnreachableQuotingTheIPv6Header() {
        var reply = M.request(identifier: 0x0a0b, sequence: 0x0c0d, ipv4: false)
        reply[0] = 129
        #expect(M.parseIPv6(reply) == M.Received(kind: .echoReply, identifier: 0x0a0b, sequence: 0x0c0d))
        let target = IPAddress("fd03::1")!
        var header = [UInt8](repeating: 0, count: 40)
        header[0] = 0x60
        header[6] = 58
        header.replaceSubrange(8..<24, with: IPAddress("fd01:1::2")!.bytes)
        header.replaceSubrange(24..<40, with: target.bytes)
        let error: [UInt8] = [1, 3, 0, 0, 0, 0, 0, 0] + header + M.request(identifier: 0x0a0b, sequence: 0x0c0e, ipv4: false)
        #expect(M.parseIPv6(error) == M.Received(kind: .unreachable(code: 3), identifier: 0x0a0b, sequence: 0x0c0e,
                                                 quotedDestination: target))
        var exceeded = error
        exceeded[0] = 3
        #expect(M.parseIPv6(exceeded)?.kind == .timeExceeded)
        for length in 0..<56 { #expect(M.parseIPv6(Array(error.prefix(length))) == nil) }
    }
}
