import MPTCPAPI
import MPTCPKit
@testable import MPTCPDaemon
import MPTCPPolicy
import Testing

/// What a path's transition looks like on `subscribe`, to hooks, in `status`
/// and in `paths`.
@Suite struct HealthReportTests {
    static let transition = PathTransition(key: PathKey(interface: "eth1", family: .ipv4), from: .up, to: .down, at: .seconds(3),
                                           evidence: "3 probes lost in a row", rttMilliseconds: 12.345, lossPercent: 30)

    @Test func aTransitionIsAHealthEventWithItsEvidenceAndFiguresAndRunsTheHookOfItsName() {
        let e = HealthReport.event(Self.transition)
        #expect(e.kind == .health && e.type == "path_down")
        #expect(e.fields["interface"] == "eth1" && e.fields["family"] == "ipv4" && e.fields["from"] == "up" && e.fields["to"] == "down")
        #expect(e.fields["evidence"] == "3 probes lost in a row" && e.fields["rtt_ms"] == .number(12.3) && e.fields["loss_percent"] == 30)
        #expect(e.hookEvent == "path_down" && HookRunner.kinds.contains(.health))
        var up = Self.transition
        (up.from, up.to, up.rttMilliseconds, up.lossPercent) = (.down, .up, nil, nil)
        #expect(HealthReport.event(up).type == "path_up" && HealthReport.event(up).fields["rtt_ms"] == nil)
        #expect(HealthReport.event(up).hookEvent == "path_up")
        #expect(DaemonEvent(.health, "path_degraded").hookEvent == "path_degraded")
    }

    @Test func theStateGaugeIsZeroForUpAndUnknownOneForDegradedTwoForDown() {
        #expect(PathHealthState.allCases.map(HealthReport.stateValue) == [0, 0, 1, 2])
    }

    @Test func theBoardShowsPathsAndASummaryOnlyWhileTheThreadRuns() {
        let board = HealthBoard()
        #expect(board.paths == nil && board.summary == nil)
        board.setRunning(true)
        let record = { (state: String) in
            PathRecord(interface: "eth1", family: "ipv4", state: state, source: "10.1.1.2", gateway: nil, rttMilliseconds: nil,
                       lossPercent: nil, targets: [], probesSent: 0, probesLost: 0, onPathDown: "withdraw", lastTransition: nil)
        }
        board.publish(paths: ["up", "down", "down", "unknown"].map(record))
        #expect(board.summary == PathsSummaryRecord(up: 1, degraded: 0, down: 2, unknown: 1))
        board.setRunning(false)
        #expect(board.paths == nil && board.view == .none)
    }

    @Test func aPathRecordReadsBackFromItsJSON() throws {
        let record = PathRecord(interface: "eth1", family: "ipv4", state: "down", source: "10.1.1.2", gateway: "10.1.1.1",
                                rttMilliseconds: 1.5, lossPercent: 40, targets: [.init(target: "10.3.0.1:443", answered: true)],
                                probesSent: 10, probesLost: 4, onPathDown: "backup",
                                lastTransition: .init(from: "up", to: "down", at: 1_700_000_000.25, evidence: "why"))
        let back = try PathRecord(json: record.json)
        #expect(back.state == "down" && back.rttMilliseconds == 1.5 && back.lossPercent == 40 && back.targets == record.targets)
        #expect(back.lastTransition == record.lastTransition && back.gateway == "10.1.1.1" && back.onPathDown == "backup")
        #expect(record.json["last_transition"]?["evidence"] == "why")
        let fresh = PathRecord(interface: "eth2", family: "ipv6", state: "unknown", source: "fd01:2::2", gateway: nil, rttMilliseconds: nil,
                               lossPercent: nil, targets: [], probesSent: 0, probesLost: 0, onPathDown: "withdraw", lastTransition: nil)
        #expect(fresh.json["rtt_ms"] == .null && fresh.json["last_transition"] == .null)
        #expect(try PathRecord(json: fresh.json).lastTransition == nil)
    }

    @Test func dataInFlightReadsBackAndADaemonThatDoesNotSayItMeansNone() throws {
        var record = PathRecord(interface: "eth1", family: "ipv4", state: "down", source: "10.1.1.2", gateway: nil, rttMilliseconds: nil,
                                lossPercent: nil, targets: [], probesSent: 3, probesLost: 3, onPathDown: "withdraw", lastTransition: nil,
                                dataInFlight: true)
        #expect(record.json["data_in_flight"] == .bool(true))
        #expect(try PathRecord(json: record.json).dataInFlight && record.withdrawalWaits)
        record.onPathDown = "backup"
        #expect(!record.withdrawalWaits, "backup mode is backup either way")
        guard case .object(var members) = record.json else {
            Issue.record("not an object")
            return
        }
        members["data_in_flight"] = nil
        #expect(try !PathRecord(json: .object(members)).dataInFlight)
        members["data_in_flight"] = .string("yes")
        #expect(throws: RPCError.self) { try PathRecord(json: .object(members)) }
    }
}
