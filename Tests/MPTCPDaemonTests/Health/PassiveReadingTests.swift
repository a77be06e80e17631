@testable import MPTCPKit
@testable import MPTCPDaemon
import MPTCPPolicy
import Testing

/// The health thread's passive reading, summed per address by the narrow read:
/// a path's sample is what summing its subflows one by one gave.
@Suite struct PassiveReadingTests {
    static func address(_ text: String) -> IPAddress { IPAddress(text) ?? .v4([0, 0, 0, 0]) }

    static func subflow(_ local: String, state: TCPState = .established, info: TCPInfo?) -> Subflow {
        Subflow(localAddress: address(local), localPort: 40000, remoteAddress: address("10.3.0.1"), remotePort: 443,
                backupLocal: false, backupRemote: false, localID: 0, remoteID: 0, interfaceIndex: 2, state: state, token: 1,
                tcpInfo: info)
    }

    static func info(acked: UInt64?, received: UInt64? = nil, unacked: UInt32 = 0, lastAck: UInt32? = nil, backoff: UInt8 = 0,
                     lastSent: UInt32? = 60_000) -> TCPInfo {
        var i = TCPInfo(state: .established, backoff: backoff)
        i.bytesAcked = acked
        i.bytesReceived = received
        i.unacked = unacked
        i.lastAckReceivedMilliseconds = lastAck
        i.lastDataSentMilliseconds = lastSent
        i.lastDataReceivedMilliseconds = 60_000
        return i
    }

    /// The sample as the reading of whole subflows computed it before the narrow read.
    static func summedOneByOne(_ subflows: [Subflow], _ path: ProbePath) -> PassiveSample? {
        let mine = subflows.filter { Set(path.addresses).contains($0.localAddress) }
        guard !mine.isEmpty else { return nil }
        let infos = mine.compactMap(\.tcpInfo)
        let stalled = mine.filter { $0.state != .synSent }.compactMap(\.tcpInfo).filter(\.hasUnackedData)
        return PassiveSample(
            subflows: mine.count, established: mine.filter(\.carriesTraffic).count,
            bytesAcked: infos.reduce(0) { $0 &+ ($1.bytesAcked ?? 0) },
            bytesReceived: infos.reduce(0) { $0 &+ ($1.bytesReceived ?? 0) },
            maxBackoff: Int(stalled.map(\.backoff).max() ?? 0), hasUnackedData: !stalled.isEmpty,
            lastAckAge: stalled.compactMap(\.lastAckReceivedMilliseconds).min().map { .milliseconds(Int64($0)) })
    }

    static func path(_ addresses: [String]) -> ProbePath {
        ProbePath(key: PathKey(interface: "eth1", family: .ipv4), interfaceIndex: 2, source: address(addresses[0]),
                  addresses: addresses.map(address), gateway: nil, peers: [], settings: ProbeSettings())
    }

    @Test func aPathsSampleSumsEveryOneOfItsAddressesAsSubflowBySubflowDid() {
        let subflows = [
            Self.subflow("10.1.1.2", info: Self.info(acked: 100, received: 20, unacked: 3, lastAck: 1500, backoff: 1)),
            Self.subflow("10.1.1.3", info: Self.info(acked: 5, unacked: 1, lastAck: 400, backoff: 3)),
            Self.subflow("10.1.1.3", state: .synSent, info: nil),
            Self.subflow("10.1.1.2", info: Self.info(acked: nil, received: 9, lastAck: 10)),
            Self.subflow("10.1.2.2", info: Self.info(acked: 1_000_000, unacked: 8, lastAck: 5, backoff: 6)),
        ]
        let reading = PassiveReading(subflows: subflows, peers: [])
        for path in [Self.path(["10.1.1.2", "10.1.1.3"]), Self.path(["10.1.1.3"]), Self.path(["10.1.2.2", "10.1.2.2"]),
                     Self.path(["10.1.9.9"])] {
            #expect(reading.sample(for: path) == Self.summedOneByOne(subflows, path), "\(path.addresses)")
        }
        let both = reading.sample(for: Self.path(["10.1.1.2", "10.1.1.3"]))
        #expect(both == PassiveSample(subflows: 4, established: 3, bytesAcked: 105, bytesReceived: 29, maxBackoff: 3, hasUnackedData: true,
                                      lastAckAge: .milliseconds(400)))
        #expect(reading.sample(for: Self.path(["10.1.9.9"])) == nil)
    }

    @Test func theReadingIsBusyWhileAnySubflowMovesData() {
        let idle = [Self.subflow("10.1.1.2", info: Self.info(acked: 1)), Self.subflow("10.1.1.3", info: nil)]
        #expect(!PassiveReading(subflows: idle, peers: []).isBusy)
        #expect(PassiveReading(subflows: idle + [Self.subflow("10.1.2.2", info: Self.info(acked: 1, lastSent: 999))], peers: []).isBusy)
        #expect(PassiveReading(subflows: idle + [Self.subflow("10.1.2.2", info: Self.info(acked: 1, unacked: 1))], peers: []).isBusy)
    }
}
