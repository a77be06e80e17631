import MPTCPKit
@testable import MPTCPPolicy
import Testing

/// Path health steering the *initial* subflow of a userspace-PM connection
/// (`DecisionSteps.steerInitialByHealth`), on `PathSteeringConnectionTests`'
/// connection: the initial subflow on eth0, one subflow each on eth1 and wwan0.
/// No slot wants the initial subflow, so only health sets its backup flag.
@Suite struct InitialSubflowSteeringTests {
    let steering = PathSteeringConnectionTests()
    var initial: AddressAndPort { steering.connection().local }

    func initialBackups(_ d: ConnectionDecision) -> [(Bool, String)] {
        steering.backups(d).filter { $0.0 == initial }.map { ($0.1, $0.2) }
    }

    @Test func aDegradedInitialPathsSubflowIsBackupAndActiveAgainOnceThePathIsUp() {
        let degraded = steering.decide(.aggregate, PathSteeringConnectionTests.view([("eth0", .degraded)]))
        #expect(initialBackups(degraded).map(\.0) == [true], "\(degraded.actions)")
        #expect(initialBackups(degraded).first?.1.contains("eth0/ipv4 is degraded: 3 probes lost in a row; backup while") == true,
                "\(initialBackups(degraded))")
        #expect(degraded.memory.initialDemotedByHealth)

        var c = steering.connection()
        c.subflows[0].backup = true
        let still = steering.decide(.aggregate, PathSteeringConnectionTests.view([("eth0", .degraded)]), connection: c,
                                    memory: degraded.memory)
        #expect(initialBackups(still).isEmpty, "already backup: nothing asked again")

        let healed = steering.decide(.aggregate, PathSteeringConnectionTests.view([("eth0", .up)]), connection: c,
                                     memory: degraded.memory)
        #expect(initialBackups(healed).map(\.0) == [false], "\(healed.actions)")
        #expect(initialBackups(healed).first?.1 == "eth0 is up again")
        #expect(healed.memory.initialDemotedByHealth, "kept until the flag is seen cleared")

        c.subflows[0].backup = false
        let settled = steering.decide(.aggregate, PathSteeringConnectionTests.view([("eth0", .up)]), connection: c,
                                      memory: healed.memory)
        #expect(initialBackups(settled).isEmpty && !settled.memory.initialDemotedByHealth)
    }

    @Test func onPathDownBackupSetsTheInitialSubflowBackup() {
        let d = steering.decide(.aggregate, PathSteeringConnectionTests.view([("eth0", .down)], onPathDown: .backup))
        #expect(initialBackups(d).map(\.0) == [true], "\(d.actions)")
    }

    @Test func theLastUsablePathsInitialSubflowIsNotDemoted() {
        // Every other path is down: eth0 stays as it is, though degraded.
        let d = steering.decide(.aggregate, PathSteeringConnectionTests.view([("eth0", .degraded), ("eth1", .down), ("wwan0", .down), ("lte0", .down)]))
        #expect(initialBackups(d).isEmpty, "\(d.actions)")
    }

    @Test func aBackupFlagHealthDidNotSetIsLeftAsItIs() {
        var c = steering.connection()
        c.subflows[0].backup = true
        let d = steering.decide(.aggregate, PathSteeringConnectionTests.view([("eth0", .up)]), connection: c)
        #expect(initialBackups(d).isEmpty, "\(d.actions)")
    }
}
