import FoundationEssentials
import Logging
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy
@testable import MPTCPDaemon
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The hook runner publishes what its hooks did (`hook` events), and those
/// events never run hooks themselves. Real processes (`/bin/sh`), no kernel.
@Suite struct HookRunnerEventsTests {
    @Test func theRunnerTakesNoHookEventsAndNoHookEventIsAHookEvent() {
        #expect(!HookRunner.kinds.contains(.hook))
        for type in ["enabled", "disabled", "ran", "failed", "timed_out", "killed", "not_started"] {
            #expect(DaemonEvent(.hook, type).hookEvent == nil, "\(type)")
        }
    }

    /// The hook events published until `done` holds (20 s at most).
    func hookEvents(_ s: EventHub.Subscriber, until done: ([DaemonEvent]) -> Bool) -> [DaemonEvent] {
        var seen: [DaemonEvent] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while !done(seen) && ContinuousClock.now < deadline {
            for case .event(let e) in s.take() where e.kind == .hook { seen.append(e) }
            usleep(20_000)
        }
        return seen
    }

    @Test func aFailingHookIsPublishedWithItsExitCodeAndOutputAndRunsNoFurtherHook() throws {
        let directory = "/tmp/mptcpctld-hook-events-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        #expect(mkdir(directory, 0o755) == 0)
        defer { _ = try? FileManager.default.removeItem(atPath: directory) }
        let runs = directory + "/runs"
        let script = "#!/bin/sh\necho \"$MPTCPCTL_EVENT\" >> \(runs)\necho twenty failed\nexit 3\n"
        #expect(FileManager.default.createFile(atPath: directory + "/20-fail", contents: Data(script.utf8),
                                               attributes: [.posixPermissions: 0o755]))
        let hub = EventHub(keepingStartUp: true)
        var settings = HookSettings()
        settings.directory = directory
        let runner = try #require(HookRunner(settings: settings, hub: hub, namespace: .current, socketPath: "/nonexistent",
                                             logger: Logger(label: "test")))
        let published = EventHub.Subscriber(kinds: Set(DaemonEvent.Kind.allCases), capacity: 1000, wake: {})
        hub.add(published, replayingStartUp: true)
        hub.endStartUp()
        #expect(runner.start())
        defer { runner.join() }
        hub.publish(DaemonEvent(.interface, "link_down", ["interface": "eth1"]))

        let seen = hookEvents(published) { $0.contains { $0.type == "failed" } }
        #expect(seen.map(\.type) == ["enabled", "failed"], "\(seen.map(\.text))")
        #expect(seen.first?.fields["directory"] == .string(directory))
        let failed = try #require(seen.last)
        #expect(failed.fields["hook"] == .string(directory + "/20-fail") && failed.fields["event"] == "interface_down")
        #expect(failed.fields["exit_code"] == 3 && failed.fields["output"] == "twenty failed")
        // The failure was published, and it ran nothing: the hook ran once.
        usleep(300_000)
        #expect((try? String(contentsOfFile: runs, encoding: .utf8)) == "interface_down\n")
    }
}
