import MPTCPAPI
import MPTCPKit
import Testing

/// The events for what went otherwise than asked, and for hook runs: their
/// schema, their monitor line, and `subscribe`'s start-up replay parameter.
@Suite struct OutcomeEventTests {
    @Test func aFailedSubflowSaysItsAttemptAndBackoffAsTheLogDoes() {
        let e = EventRecord.subflowFailed(token: "0000abcd", local: "10.0.2.1", remote: "10.0.1.2:80", error: "join timed out",
                                          attempt: 2, retryInMilliseconds: 400, timeoutMilliseconds: 7000)
        #expect(e.kind == .action && e.type == "subflow_failed")
        #expect(e.monitorLine(json: false)
                == #"[ACTION subflow_failed] token=0000abcd error="join timed out" attempt=2 local=10.0.2.1 remote=10.0.1.2:80 retry_in_ms=400 timeout_ms=7000"#)
        let closed = EventRecord.subflowFailed(token: "0000abcd", local: "10.0.2.1", remote: "10.0.1.2:80", error: "103",
                                               attempt: 1, retryInMilliseconds: 200, timeoutMilliseconds: nil)
        #expect(closed.fields["timeout_ms"] == nil, "only a timed-out join has a timeout")
    }

    @Test func everyOutcomeEventRoundTripsThroughItsJSON() throws {
        let events: [EventRecord] = [
            .commandRefused("announcement_refused", token: "00000007", error: "EINVAL", ["local_address": "10.0.2.1", "local_id": 3]),
            .announcementWithheld(token: "00000007", address: "10.0.2.2:7402", reason: "no listener", repeated: false),
            .announcementListener("listener_opened", address: "[2001:db8::1]:80"),
            .announcementListener("listener_failed", address: "10.0.2.2:7402", error: "address in use"),
            .connectionGone(token: "00000007", while: "creating subflows"),
            .notYetEstablished(token: "00000007"),
            .interfaceNotified(interface: nil, action: "connectivity-change"),
            .hooks(enabled: true, directory: "/etc/mptcpctl/hooks.d", timeout: 10, maxConcurrent: 4),
            .hooks(enabled: false, directory: "/etc/mptcpctl/hooks.d", timeout: 10, maxConcurrent: 4),
            .hookRun("failed", hook: "/h/20-fail", event: "interface_down", pid: 42, ["exit_code": 3, "output": "twenty failed"]),
            .hookRun("not_started", hook: "/h/10-x", event: "policy_reloaded", pid: nil, ["error": "Permission denied"]),
        ]
        for e in events { #expect(try EventRecord(json: e.json) == e, "\(e.text)") }
        #expect(events[6].fields == ["action": "connectivity-change"], "every interface: no interface field")
        #expect(events[8].fields == ["directory": "/etc/mptcpctl/hooks.d"])
        #expect(events[10].fields["pid"] == nil)
    }

    @Test func hookEventsAreAKindOfTheirOwn() throws {
        let e = EventRecord.hookRun("killed", hook: "/h/30-hang", event: "interface_down", pid: 9)
        #expect(e.kind == .hook && EventRecord.Kind(rawValue: "hook") == .hook)
        #expect(e.monitorLine(json: false) == "[HOOK killed] event=interface_down hook=/h/30-hang pid=9")
        #expect(try SubscribeParams(request: ["kinds": ["hook"]]).kinds == [.hook])
    }

    @Test func subscribeAsksForTheStartUpEventsByName() throws {
        #expect(try SubscribeParams(request: ["start_up": true]).startUp)
        #expect(try !SubscribeParams(request: [:]).startUp)
        #expect(SubscribeParams(kinds: [.action], startUp: true).params == ["kinds": ["action"], "start_up": true])
        #expect(throws: RPCError.self) { try SubscribeParams(request: ["start_up": "yes"]) }
        let record = SubscriptionRecord(kinds: [.hook], queue: 1024, startUp: true)
        #expect(try SubscriptionRecord(json: record.json) == record)
        #expect(SubscriptionRecord(kinds: [.hook], queue: 1024).json["start_up"] == nil, "absent unless asked for")
    }
}
