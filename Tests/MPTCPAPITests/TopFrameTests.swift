import MPTCPAPI
import MPTCPKit
import Testing

/// `mptcpctl top`'s frames: rates from counter deltas over the measured time,
/// paths kept once seen, health joined from the daemon, connections sorted,
/// and the text and JSON they are shown as.
@Suite struct TopFrameTests {
    static let eth1 = Link(index: 2, name: "eth1", flags: 1, operState: .up)
    static let eth2 = Link(index: 3, name: "eth2", flags: 1, operState: .up)

    static func subflow(_ local: String, port: UInt16, interface: Int32, token: UInt32 = 7, backup: Bool = false,
                        acked: UInt64, received: UInt64 = 0, retrans: UInt32 = 0, rttMicroseconds: UInt32 = 20_000,
                        state: TCPState = .established) -> Subflow {
        var info = TCPInfo(state: state)
        info.bytesSent = acked
        info.bytesAcked = acked
        info.bytesReceived = received
        info.totalRetransmissions = retrans
        info.rttMicroseconds = rttMicroseconds
        var subflow = Subflow(token: token, local: AddressAndPort(address: IPAddress(local)!, port: port),
                              remote: AddressAndPort(address: IPAddress("10.9.0.1")!, port: 443), localID: 0,
                              backup: backup, interfaceIndex: interface, state: state)
        subflow.tcpInfo = info
        return subflow
    }

    static func connection(_ token: UInt32, _ subflows: [Subflow]) -> Connection {
        Connection(token: token, side: .client, local: AddressAndPort(address: subflows[0].localAddress, port: subflows[0].localPort),
                   remote: AddressAndPort(address: IPAddress("10.9.0.1")!, port: 443), subflows: subflows)
    }

    static func reading(_ connections: [Connection], at t: Double, links: [Link] = [eth1, eth2],
                        health: [PathRecord]? = nil) -> TopReading {
        TopReading(connections: connections, links: links, health: health, monotonic: t, wallClock: 1_700_000_000 + t)
    }

    /// The frame of the next reading (not the first).
    static func step(_ builder: inout TopFrameBuilder, _ reading: TopReading) throws -> TopFrame {
        try #require(Optional(builder.frame(reading)) ?? nil)
    }

    @Test func ratesAreCounterDeltasOverTheMeasuredTimeAndTheFirstReadingOnlyPrimes() throws {
        var builder = TopFrameBuilder()
        let first = Self.connection(7, [Self.subflow("10.0.1.2", port: 1, interface: 2, acked: 1_000_000, received: 10),
                                        Self.subflow("10.0.2.2", port: 2, interface: 3, acked: 500, received: 0)])
        #expect(builder.frame(Self.reading([first], at: 100)) == nil)
        let second = Self.connection(7, [Self.subflow("10.0.1.2", port: 1, interface: 2, acked: 3_000_000, received: 1010, retrans: 2),
                                         Self.subflow("10.0.2.2", port: 2, interface: 3, acked: 1_000_500, received: 0)])
        let frame = try Self.step(&builder, Self.reading([second], at: 102))
        #expect(frame.elapsed == 2)
        let eth1 = try #require(frame.paths.first { $0.interface == "eth1" })
        #expect(eth1.sentPerSecond == 1_000_000)
        #expect(eth1.receivedPerSecond == 500)
        #expect(eth1.carried.retransmissions == 2)
        #expect(eth1.rttMilliseconds == 20)
        #expect(frame.paths.first { $0.interface == "eth2" }?.sentPerSecond == 500_000)
        #expect(frame.total.sentPerSecond == 1_500_000)
        #expect(frame.connections.first?.sentPerSecond == 1_500_000)
    }

    @Test func aPathWhoseSubflowsAreGoneStaysListedWithNothingCarried() throws {
        var builder = TopFrameBuilder()
        let both = Self.connection(7, [Self.subflow("10.0.1.2", port: 1, interface: 2, acked: 100),
                                       Self.subflow("10.0.2.2", port: 2, interface: 3, acked: 100)])
        _ = builder.frame(Self.reading([both], at: 1))
        _ = builder.frame(Self.reading([both], at: 2))
        let one = Self.connection(7, [Self.subflow("10.0.1.2", port: 1, interface: 2, acked: 200)])
        let down = Link(index: 3, name: "eth2", flags: 0, operState: .down)
        let frame = try Self.step(&builder, Self.reading([one], at: 3, links: [Self.eth1, down]))
        let eth2 = try #require(frame.paths.first { $0.interface == "eth2" })
        #expect(eth2.subflows == 0)
        #expect(eth2.mode == "-")
        #expect(eth2.linkUp == false)
        #expect(eth2.sentPerSecond == 0)
        let text = frame.lines(width: 120, TopTextOptions()).joined(separator: "\n")
        #expect(text.contains("eth2/ipv4     down"), "\(text)")
    }

    @Test func healthComesFromTheDaemonsPathsAndIsADashWithoutIt() throws {
        var builder = TopFrameBuilder()
        let c = Self.connection(7, [Self.subflow("10.0.1.2", port: 1, interface: 2, acked: 0)])
        let record = PathRecord(interface: "eth1", family: "ipv4", state: "degraded", source: "10.0.1.2", gateway: nil,
                                rttMilliseconds: nil, lossPercent: nil, targets: [], probesSent: 0, probesLost: 0,
                                onPathDown: "withdraw", lastTransition: nil)
        _ = builder.frame(Self.reading([c], at: 1))
        let judged = try Self.step(&builder, Self.reading([c], at: 2, health: [record]))
        #expect(judged.daemon)
        #expect(judged.paths.first { $0.interface == "eth1" }?.health == "degraded")
        let alone = try Self.step(&builder, Self.reading([c], at: 3))
        #expect(!alone.daemon)
        #expect(alone.paths.first?.health == nil)
        #expect(alone.lines(width: 120, TopTextOptions()).contains { $0.hasPrefix("eth1/ipv4") && $0.contains("  -  ") })
    }

    @Test func aPathIsBackupOnlyWhenAllItsEstablishedSubflowsAre() throws {
        var builder = TopFrameBuilder()
        let c = Self.connection(7, [Self.subflow("10.0.1.2", port: 1, interface: 2, backup: true, acked: 0),
                                    Self.subflow("10.0.2.2", port: 2, interface: 3, backup: true, acked: 0),
                                    Self.subflow("10.0.2.2", port: 3, interface: 3, acked: 0, state: .synSent)])
        _ = builder.frame(Self.reading([c], at: 1))
        let frame = try Self.step(&builder, Self.reading([c], at: 2))
        #expect(frame.paths.map(\.mode) == ["backup", "backup"])
        #expect(frame.paths.map(\.subflows) == [1, 1], "a join under way is no established subflow")
    }

    @Test func connectionsAreSortedByTheChosenKeyAndCutToTheLimit() throws {
        var builder = TopFrameBuilder()
        func table(_ k: UInt64) -> [Connection] {
            [Self.connection(1, [Self.subflow("10.0.1.2", port: 1, interface: 2, token: 1, acked: 100 * k, received: 900 * k)]),
             Self.connection(2, [Self.subflow("10.0.1.2", port: 2, interface: 2, token: 2, acked: 500 * k, received: 0, retrans: UInt32(k))]),
             Self.connection(3, [Self.subflow("10.0.1.2", port: 3, interface: 2, token: 3, acked: 0, received: 0)])]
        }
        _ = builder.frame(Self.reading(table(1), at: 1))
        let frame = try Self.step(&builder, Self.reading(table(2), at: 2))
        #expect(TopSortKey.rate.sorted(frame.connections).map(\.token) == [1, 2, 3])
        #expect(TopSortKey.sent.sorted(frame.connections).map(\.token) == [2, 1, 3])
        #expect(TopSortKey.retransmits.sorted(frame.connections).first?.token == 2)
        #expect(TopSortKey.rate.next == .sent && TopSortKey.retransmits.next == .rate)
        let lines = frame.lines(width: 120, TopTextOptions(sort: .sent, connections: 1))
        let header = try #require(lines.firstIndex { $0.hasPrefix("CONNECTION") })
        #expect(lines[header + 1].hasPrefix(formatToken(2)))
        #expect(lines[header + 2].contains("2 more"))
    }

    @Test func aConnectionThatAppearsBetweenReadingsCountsWhatItCarried() throws {
        var builder = TopFrameBuilder()
        _ = builder.frame(Self.reading([], at: 1))
        let c = Self.connection(9, [Self.subflow("10.0.1.2", port: 1, interface: 2, token: 9, acked: 4000)])
        let frame = try Self.step(&builder, Self.reading([c], at: 3))
        #expect(frame.connections.first?.sentPerSecond == 2000)
        #expect(frame.paths.first?.sentPerSecond == 2000)
    }

    @Test func linesNeverExceedTheWidthAndTheSparklineFillsTheRoom() throws {
        var builder = TopFrameBuilder()
        for t in 1...5 {
            let c = Self.connection(7, [Self.subflow("10.0.1.2", port: 1, interface: 2, acked: UInt64(t * t) * 1000)])
            _ = builder.frame(Self.reading([c], at: Double(t)))
        }
        let c = Self.connection(7, [Self.subflow("10.0.1.2", port: 1, interface: 2, acked: 36_000)])
        let frame = try Self.step(&builder, Self.reading([c], at: 6))
        #expect(frame.paths[0].history.count == 5)
        for width in [40, 80, 160] {
            #expect(frame.lines(width: width, TopTextOptions()).allSatisfy { $0.count <= width })
        }
        let row = try #require(frame.lines(width: 160, TopTextOptions()).first { $0.hasPrefix("eth1/ipv4") })
        #expect(row.hasSuffix(":=+*@"), "\(row)")
    }

    @Test func ratesAreShownWithThreeSignificantDigitsInDecimalUnits() {
        #expect(TopText.rate(0) == "0 B/s")
        #expect(TopText.rate(812.4) == "812 B/s")
        #expect(TopText.rate(12_345) == "12.3 kB/s")
        #expect(TopText.rate(2_500_000) == "2.50 MB/s")
        #expect(TopText.rate(123_456_789) == "123 MB/s")
        #expect(TopText.milliseconds(12.345) == "12.3 ms")
        #expect(TopText.milliseconds(0.042) == "0.04 ms", "a veth RTT is not 0")
        #expect(TopText.fixed(0.05, decimals: 2) == "0.05")
    }

    @Test func theJSONFrameCarriesEveryDocumentedField() throws {
        var builder = TopFrameBuilder()
        let c = Self.connection(7, [Self.subflow("10.0.1.2", port: 1, interface: 2, acked: 0)])
        _ = builder.frame(Self.reading([c], at: 1))
        let later = Self.connection(7, [Self.subflow("10.0.1.2", port: 1, interface: 2, acked: 1000)])
        let json = try Self.step(&builder, Self.reading([later], at: 2)).json(connections: 10, sort: .rate)
        #expect(Set(json.objectKeys) == ["time", "interval_s", "daemon", "paths", "total", "connections"])
        let path = try #require(json["paths"]?.arrayValue?.first)
        #expect(Set(path.objectKeys) == ["interface", "family", "link", "health", "subflows", "mode", "rtt_ms",
                                         "sent_bytes_per_s", "received_bytes_per_s", "acked_bytes", "sent_bytes",
                                         "received_bytes", "retransmits"])
        #expect(path["sent_bytes_per_s"] == .number(1000))
        let connection = try #require(json["connections"]?.arrayValue?.first)
        #expect(Set(connection.objectKeys) == ["token", "local", "remote", "subflows", "sent_bytes_per_s",
                                               "received_bytes_per_s", "acked_bytes", "received_bytes", "retransmits", "policy"])
    }
}

extension JSONValue {
    fileprivate var objectKeys: [String] { objectValue.map { Array($0.keys) } ?? [] }
}
