import Testing
@testable import MPTCPKit

/// Which received message answers which echo probe: identifier, sequence in
/// flight, and the target (echo reply) or the quoted target (a router's error).
@Suite struct EchoProbeLedgerTests {
    static let target = IPAddress("10.3.0.1")!, router = IPAddress("10.1.1.1")!
    static let start = ContinuousClock.now

    func ledger() -> EchoProbeLedger {
        var ledger = EchoProbeLedger(identifier: 0x1111, limit: 4)
        ledger.sent(sequence: 1, to: Self.target, at: Self.start)
        ledger.sent(sequence: 2, to: Self.router, at: Self.start)
        return ledger
    }

    func reply(_ identifier: UInt16, _ sequence: UInt16) -> ICMPEchoMessage.Received {
        ICMPEchoMessage.Received(kind: .echoReply, identifier: identifier, sequence: sequence)
    }

    @Test func anEchoReplyFromTheTargetAnswersItsProbeOnceWithTheRoundTrip() {
        var l = ledger()
        let answer = l.answer(reply(0x1111, 1), from: Self.target, at: Self.start + .milliseconds(12))
        #expect(answer == ProbeReply(from: Self.target, sequence: 1, kind: .echoReply, roundTrip: .milliseconds(12)))
        #expect(l.answer(reply(0x1111, 1), from: Self.target, at: Self.start + .milliseconds(13)) == nil, "a duplicate")
    }

    @Test func repliesOfAnotherIdentifierSequenceOrSourceAreDropped() {
        var l = ledger()
        #expect(l.answer(reply(0x2222, 1), from: Self.target, at: Self.start) == nil, "another socket's or ping's")
        #expect(l.answer(reply(0x1111, 9), from: Self.target, at: Self.start) == nil, "a sequence never sent")
        #expect(l.answer(reply(0x1111, 1), from: Self.router, at: Self.start) == nil, "sequence 1 went to the target")
        #expect(l.answer(nil, from: Self.target, at: Self.start) == nil)
        #expect(l.inFlight.count == 2, "nothing was taken for an answer")
    }

    @Test func aRoutersErrorAnswersTheProbeWhoseTargetItQuotes() {
        var l = ledger()
        let wrongTarget = ICMPEchoMessage.Received(kind: .unreachable(code: 1), identifier: 0x1111, sequence: 1,
                                                   quotedDestination: IPAddress("10.9.9.9"))
        #expect(l.answer(wrongTarget, from: Self.router, at: Self.start) == nil)
        let error = ICMPEchoMessage.Received(kind: .timeExceeded, identifier: 0x1111, sequence: 1, quotedDestination: Self.target)
        #expect(l.answer(error, from: Self.router, at: Self.start)?.kind == .timeExceeded)
        #expect(l.answer(reply(0x1111, 1), from: Self.target, at: Self.start) == nil, "already answered")
    }

    @Test func theOldestProbesAreForgottenBeyondTheLimitAndAResentSequenceReplacesItsTarget() {
        var l = ledger()
        for sequence in UInt16(3)...5 { l.sent(sequence: sequence, to: Self.target, at: Self.start + .milliseconds(Int(sequence))) }
        #expect(l.inFlight.count == 4)
        #expect(l.inFlight[1] == nil || l.inFlight[2] == nil, "one of the two oldest went")
        l.sent(sequence: 5, to: Self.router, at: Self.start + .seconds(1))
        #expect(l.answer(reply(0x1111, 5), from: Self.target, at: Self.start + .seconds(2)) == nil)
        #expect(l.answer(reply(0x1111, 5), from: Self.router, at: Self.start + .seconds(2))?.roundTrip == .seconds(1))
        l.forgetAll()
        #expect(l.inFlight.isEmpty)
    }
}
