import MPTCPAPI
import MPTCPKit
import Testing

/// The one monitor line format and the subscription's notifications.
@Suite struct MonitorLineTests {
    @Test func aMonitorLineIsTheEventsTextOrItsJSON() {
        let record = EventRecord(.action, "promoted", ["token": "0000abcd", "reason": "no active path"], time: 2, seq: 3)
        #expect(record.monitorLine(json: false) == #"[ACTION promoted] token=0000abcd reason="no active path""#)
        #expect(record.monitorLine(json: true)
                == #"{"kind":"action","reason":"no active path","seq":3,"time":2,"token":"0000abcd","type":"promoted"}"#)
        let kernel = EventRecord(Event(type: .closed, token: 7), time: 1)
        #expect(kernel.monitorLine(json: false) == "[CLOSED] token=00000007")
    }

    @Test func notificationsRoundTripAndUnknownOnesAreSkipped() throws {
        let event = ControlNotification.event(EventRecord(.policy, "reloaded", ["changes": 1], time: 5, seq: 1))
        let missed = ControlNotification.eventsMissed(4, message: "4 events were dropped here")
        for notification in [event, missed] {
            guard case .notification(let method, let params) = try RPCWire.decodeMessage(notification.line.dropLast()) else {
                Issue.record("not a notification")
                continue
            }
            #expect(try ControlNotification(method: method, params: params) == notification)
        }
        #expect(String(decoding: missed.line, as: UTF8.self)
                == #"{"jsonrpc":"2.0","method":"events_missed","params":{"message":"4 events were dropped here","missed":4}}"# + "\n")
        #expect(try ControlNotification(method: "future", params: .null) == nil)
    }
}
