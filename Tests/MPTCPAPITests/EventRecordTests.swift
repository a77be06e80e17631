import MPTCPAPI
import MPTCPKit
import Testing

/// The one event schema: what `subscribe`, hooks and `mptcpctl monitor` (direct or
/// through the daemon) show.
@Suite struct EventRecordTests {
    func address(_ text: String) throws -> IPAddress { try #require(IPAddress(text)) }

    @Test func aKernelEventCarriesEveryAttributeTheKernelSent() throws {
        let event = Event(type: .subflowClosed, token: 0x1a2b3c4d, family: 2, localID: 3, remoteID: 4,
                          localAddress: try address("10.0.2.1"), remoteAddress: try address("10.0.1.2"),
                          localPort: 40000, remotePort: 7000, backup: true, error: 111, flags: [.serverSide, .denyJoinID0],
                          timeout: 30, interfaceIndex: 3, resetReason: 2, resetFlags: 1, serverSideAttribute: true,
                          unknownAttributes: [NetlinkAttribute(type: 40, value: [0xde, 0x0a])])
        let record = EventRecord(event, time: 1.5) { $0 == 3 ? "c2" : nil }
        let expected: [String: JSONValue] = [
            "kind": "kernel", "type": "sub_closed", "time": .number(1.5), "seq": 0,
            "token": "1a2b3c4d", "family": "inet", "local_id": 3, "remote_id": 4,
            "local_address": "10.0.2.1", "remote_address": "10.0.1.2", "local_port": 40000, "remote_port": 7000,
            "backup": true, "error": 111, "flags": 3, "server_side": true, "deny_join_id0": true, "timeout": 30,
            "interface_index": 3, "interface": "c2", "reset_reason": 2, "reset_flags": 1, "attribute_40": "de0a",
        ]
        #expect(record.json == .object(expected))
    }

    @Test func aKernelEventShowsNothingTheKernelDidNotSend() {
        let record = EventRecord(Event(type: .closed, token: 7), time: 2)
        #expect(record.json == ["kind": "kernel", "type": "closed", "time": .number(2), "seq": 0, "token": "00000007"])
        // A client-side CREATED on 6.18 carries no flags and no server_side attribute.
        #expect(EventRecord(Event(type: .created, token: 7, serverSideAttribute: false), time: 2).fields["server_side"] == false)
    }

    @Test func subflowEventsHaveTheKernelsNames() {
        #expect([EventType.subflowEstablished, .subflowClosed, .subflowPriority].map(\.name)
                == ["sub_established", "sub_closed", "sub_priority"])
        #expect(EventType.all.map(\.name) == ["created", "established", "closed", "announced", "removed", "sub_established",
                                              "sub_closed", "sub_priority", "listener_created", "listener_closed"])
    }

    @Test func theJSONReadsBackAsTheSameEvent() throws {
        let record = EventRecord(.action, "subflow_requested", ["token": "0000abcd", "backup": false, "cause_seq": 41],
                                 time: 1_796_543_946.123456, seq: 42)
        let line = RPCWire.text(record.json)
        let back = try RPCWire.decodeMessage(Array(RPCWire.encodeNotification(method: "event", params: record.json).dropLast()))
        guard case .notification("event", let params) = back else { Issue.record("\(back)"); return }
        #expect(try EventRecord(json: params) == record, "\(line)")
        #expect(line.contains("\"time\":1796543946.123456") && line.contains("\"seq\":42"), "\(line)")
        #expect(throws: RPCError.self) { try EventRecord(json: ["kind": "sideways", "type": "x", "time": 1]) }
    }

    @Test func fieldsCannotTakeTheReservedMembers() {
        let record = EventRecord(.policy, "reloaded", ["kind": "kernel", "time": "never", "changes": 1], time: 3, seq: 9)
        #expect(record.json == ["kind": "policy", "type": "reloaded", "time": .number(3), "seq": 9, "changes": 1])
    }

    @Test func aLineQuotesValuesAsTheLogDoes() {
        let reason = "c2 is active (interface[3] \"c2\")"
        let record = EventRecord(.action, "endpoint_add", ["address": "10.0.3.1", "reason": .string(reason), "cause": "interface:link_up",
                                                          "cause_seq": 7])
        #expect(record.text == #"[ACTION endpoint_add] address=10.0.3.1 reason="c2 is active (interface[3] \"c2\")" cause=interface:link_up cause_seq=7"#)
        #expect(record.text.contains("reason=" + LogValue.quoted(reason)))
        let odd = EventRecord(.interface, "link_up", ["interface": "a b=\u{1b}[31m\n"])
        #expect(odd.text == #"[INTERFACE link_up] interface="a b=\x1b[31m\n""#)
    }

    @Test func aKernelLineReadsLikeIPMPTCPMonitor() throws {
        let event = Event(type: .subflowEstablished, token: 0xf11fd6c7, family: 2, localID: 1, remoteID: 0,
                          localAddress: try address("10.0.2.2"), remoteAddress: try address("10.0.1.1"),
                          localPort: 33089, remotePort: 10000, backup: false, interfaceIndex: 3)
        #expect(EventRecord(event, time: 0) { _ in "c2" }.text
                == "[SUB_ESTABLISHED] token=f11fd6c7 family=inet saddr=10.0.2.2 sport=33089 daddr=10.0.1.1 dport=10000 loc_id=1 rem_id=0 backup=0 interface=c2")
        let created = Event(type: .created, token: 1, flags: [.serverSide], serverSideAttribute: true)
        #expect(EventRecord(created, time: 0).text == "[CREATED] token=00000001 flags=0x2 server_side")
        #expect(EventRecord(Event(type: .subflowClosed, token: 1, interfaceIndex: 9), time: 0).text
                == "[SUB_CLOSED] token=00000001 interface=9")
    }

    @Test func arraysAreFlatTextSeparatedBySpaces() {
        let record = EventRecord(.policy, "reloaded", ["changed_keys": ["interface[1].role", "kernel.scheduler"], "changes": 2])
        #expect(EventRecord.flatText(record.fields["changed_keys"] ?? .null) == "interface[1].role kernel.scheduler")
        #expect(record.text == #"[POLICY reloaded] changed_keys="interface[1].role kernel.scheduler" changes=2"#)
        #expect(EventRecord.flatText(.array([])) == "")
        #expect(EventRecord.flatText(.number(1_796_543_946.5)) == "1796543946.5")
    }

    @Test func logValuesAreQuotedOnlyWhenTheyMustBe() {
        #expect(LogValue.quoted("eth1") == "eth1")
        #expect(LogValue.quoted("") == "\"\"")
        #expect(LogValue.quoted("a=b") == "\"a=b\"")
        #expect(LogValue.quoted("back\\slash") == "back\\slash", "no space, quote or = : left as it is")
        #expect(LogValue.quoted("say \"hi\"\\") == #""say \"hi\"\\""#)
        #expect(LogValue.quoted("tab\there\u{7f}") == #""tab\there\x7f""#)
    }
}
