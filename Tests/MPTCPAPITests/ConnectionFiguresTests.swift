import MPTCPAPI
import MPTCPKit
import Testing

/// The figures `connections` carries: each subflow's `tcp_info` members and each
/// connection's `mptcp` object, written only when the kernel reported them, and
/// read back by the CLI as written.
@Suite struct ConnectionFiguresTests {
    func roundTrips<R: ControlRecord>(_ record: R) throws -> Bool {
        let line = RPCWire.encodeResponse(id: 1, .success(record.json))
        let (_, outcome) = try RPCWire.decodeResponse(line.dropLast())
        return try R(json: outcome.get()) == record
    }

    func endpoint(_ text: String, _ port: UInt16) throws -> AddressAndPort {
        AddressAndPort(address: try #require(IPAddress(text)), port: port)
    }

    static func tcpInfo() -> TCPInfo {
        var info = TCPInfo(state: .established)
        info.rttMicroseconds = 1500
        info.rttVarianceMicroseconds = 750
        info.sendCongestionWindow = 10
        info.bytesSent = 5000
        info.bytesAcked = 4000
        info.bytesReceived = 300
        info.retrans = 1
        info.totalRetransmissions = 7
        info.deliveryRate = 6_250_000
        info.pacingRate = 12_500_000
        info.lastDataSentMilliseconds = 4
        info.lastDataReceivedMilliseconds = 9
        return info
    }

    @Test func aSubflowCarriesTheContractsFiguresAndLeavesOutWhatTheKernelDidNotReport() throws {
        let subflow = SubflowRecord(local: try endpoint("10.0.2.1", 40000), remote: try endpoint("10.0.1.2", 7000),
                                    localID: 2, remoteID: 0, backup: false, interface: "c2", state: "established",
                                    figures: SubflowFigures(Self.tcpInfo()))
        #expect(RPCWire.text(subflow.json) == #"{"backup":false,"bytes_acked":4000,"bytes_received":300,"bytes_sent":5000,"#
                + #""cwnd":10,"delivery_rate":6250000,"interface":"c2","last_receive_ms":9,"last_send_ms":4,"#
                + #""local_address":"10.0.2.1","local_id":2,"local_port":40000,"pacing_rate":12500000,"#
                + #""remote_address":"10.0.1.2","remote_id":0,"remote_port":7000,"retransmits":1,"rtt_us":1500,"#
                + #""rttvar_us":750,"state":"established","total_retransmits":7}"#)
        #expect(try roundTrips(subflow))
        let bare = SubflowRecord(local: try endpoint("10.0.2.1", 40000), remote: try endpoint("10.0.1.2", 7000),
                                 localID: 2, remoteID: 0, backup: false, interface: nil, state: "syn-sent")
        #expect(bare.json["rtt_us"] == nil && bare.json["bytes_acked"] == nil)
        #expect(try roundTrips(bare))
    }

    @Test func anUnlimitedPacingRateIsNoFigureAndAFigurePastInt64IsLeftOutSoTheRecordReadsBack() throws {
        var info = Self.tcpInfo()
        info.pacingRate = UInt64.max  // what the kernel reports before the first RTT sample (a syn-sent join)
        info.bytesSent = UInt64.max - 1
        let subflow = SubflowRecord(local: try endpoint("10.0.2.1", 40000), remote: try endpoint("10.0.1.2", 7000),
                                    localID: 2, remoteID: 0, backup: false, interface: nil, state: "syn-sent",
                                    figures: SubflowFigures(info))
        #expect(subflow.figures.pacingRate == nil)
        #expect(subflow.json["pacing_rate"] == nil && subflow.json["bytes_sent"] == nil && subflow.json["bytes_acked"] == 4000)
        let back = try SubflowRecord(json: subflow.json)
        #expect(back.figures.bytesAcked == 4000 && back.figures.bytesSent == nil)
    }

    @Test func aSubflowFigureOfTheWrongKindIsAnErrorNamingIt() throws {
        var members = try #require(SubflowRecord(local: try endpoint("10.0.2.1", 1), remote: try endpoint("10.0.1.2", 2),
                                                 localID: 0, remoteID: 0, backup: false, interface: nil, state: "established")
            .json.objectValue)
        members["rtt_us"] = "fast"
        #expect(throws: RPCError.self) { try SubflowRecord(json: .object(members)) }
        members["rtt_us"] = -1
        #expect(throws: RPCError.self) { try SubflowRecord(json: .object(members)) }
    }

    static func mptcpInfo() -> MPTCPInfo {
        var info = MPTCPInfo(token: 0x1a2b, subflows: 1, flags: 2)
        info.subflowsMax = 8
        info.subflowsTotal = 2
        info.bytesSent = 1 << 40
        info.bytesAcked = 1000
        info.bytesReceived = 20
        info.retransmits = 3
        info.checksumEnabled = false
        info.sendUnacknowledged = UInt64.max - 5
        return info
    }

    @Test func aConnectionsMPTCPObjectHasItsFiguresAndSequenceNumbersAsDecimalStrings() throws {
        let figures = MPTCPFigures(Self.mptcpInfo())
        let json = figures.json
        #expect(json["subflows"] == 1 && json["subflows_max"] == 8 && json["subflows_total"] == 2)
        #expect(json["bytes_sent"] == .integer(1 << 40) && json["bytes_acked"] == 1000 && json["bytes_received"] == 20)
        #expect(json["retransmits"] == 3)
        #expect(json["fallback"] == false && json["remote_key_received"] == true && json["csum_enabled"] == false)
        #expect(json["snd_una"] == .string(String(UInt64.max - 5)), "past Int64: a string, exact")
        #expect(json["rcv_nxt"] == nil && json["bytes_retrans"] == nil && json["last_send_ms"] == nil, "not reported: left out")
        #expect(try roundTrips(figures))
        let connection = ConnectionRecord(token: 0x1a2b, side: "client", local: try endpoint("10.0.1.1", 39000),
                                          remote: try endpoint("10.0.1.2", 7000), subflows: [], mptcp: figures)
        #expect(connection.json["mptcp"] == json)
        #expect(try roundTrips(connection))
    }

    @Test func aConnectionWithoutAnMPTCPObjectReadsBackWithout() throws {
        let connection = ConnectionRecord(token: 7, side: "server", local: try endpoint("10.0.1.2", 7000),
                                          remote: try endpoint("10.0.1.1", 39000), subflows: [])
        #expect(connection.json["mptcp"] == nil)
        #expect(try ConnectionRecord(json: connection.json).mptcp == nil)
        var members = try #require(connection.json.objectValue)
        members["mptcp"] = ["snd_una": "not a number"]
        #expect(throws: RPCError.self) { try ConnectionRecord(json: .object(members)) }
    }

    @Test func theKernelsConnectionGivesItsMPTCPFiguresAndSubflowFigures() throws {
        var subflow = Subflow(token: 0x1a2b, local: try endpoint("10.0.1.1", 39000), remote: try endpoint("10.0.1.2", 7000),
                              localID: 0, interfaceIndex: 3)
        subflow.tcpInfo = Self.tcpInfo()
        var connection = Connection(token: 0x1a2b, side: .client, local: try endpoint("10.0.1.1", 39000),
                                    remote: try endpoint("10.0.1.2", 7000), subflows: [subflow])
        connection.info = Self.mptcpInfo()
        let record = ConnectionRecord(connection) { $0 == 3 ? "c1" : nil }
        #expect(record.mptcp == MPTCPFigures(Self.mptcpInfo()))
        #expect(record.subflows.first?.figures.bytesAcked == 4000)
        #expect(record.subflows.first?.figures.rttMicroseconds == 1500)
    }

    @Test func verboseWordsNameEveryReportedFigureAsTheJSONDoes() throws {
        let words = SubflowFigures(Self.tcpInfo()).words
        #expect(words.first == "rtt_us:1500")
        #expect(words.contains("bytes_acked:4000") && words.contains("total_retransmits:7"))
        #expect(words.count == 12, "the twelve figures set, no more: \(words)")
        let mptcp = MPTCPFigures(Self.mptcpInfo()).words
        #expect(mptcp.contains("subflows:1") && mptcp.contains("fallback:false") && mptcp.contains("snd_una:\(UInt64.max - 5)"))
    }

    @Test func theTableWordsBytesRTTAndRetransmitsShortly() {
        #expect(FigureText.bytes(nil) == "-")
        #expect(FigureText.bytes(512) == "512B")
        #expect(FigureText.bytes(1536) == "1.5KiB")
        #expect(FigureText.bytes(12 << 20) == "12.0MiB")
        #expect(FigureText.bytes(3 << 30 + 200 << 20) == "3.2GiB")
        #expect(FigureText.rtt(microseconds: 260) == "0.3ms")
        #expect(FigureText.rtt(microseconds: 41_000) == "41.0ms")
        #expect(FigureText.rtt(microseconds: nil) == "-")
        #expect(FigureText.retransmits(current: 0, total: 12) == "0/12")
        #expect(FigureText.retransmits(current: nil, total: nil) == "-")
    }
}
