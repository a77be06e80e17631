/// What the daemon sends a subscriber without being asked: an event, or how many
/// events its queue dropped at this point of the stream.
public enum ControlNotification: Hashable, Sendable {
    case event(EventRecord)
    case eventsMissed(Int64, message: String)

    /// The notification's method name on the wire.
    public var method: String {
        switch self {
        case .event: "event"
        case .eventsMissed: "events_missed"
        }
    }

    /// The notification's params.
    public var params: JSONValue {
        switch self {
        case .event(let e): e.json
        case .eventsMissed(let n, let message): ["missed": .integer(n), "message": .string(message)]
        }
    }

    /// One line, newline included.
    public var line: [UInt8] { RPCWire.encodeNotification(method: method, params: params) }

    /// Reads a notification back; nil for a method this version does not know (skipped).
    public init?(method: String, params: JSONValue) throws(RPCError) {
        switch method {
        case "event": self = .event(try EventRecord(json: params))
        case "events_missed":
            self = .eventsMissed(params["missed"]?.integerValue ?? 0, message: params["message"]?.stringValue ?? "")
        default: return nil
        }
    }
}

extension EventRecord {
    /// The line `mptcpctl monitor` prints for this event: its JSON object with
    /// `json`, else its text line. The one monitor line format, whether the event
    /// came from the kernel directly or through the daemon.
    public func monitorLine(json: Bool) -> String {
        json ? RPCWire.text(self.json) : text
    }
}
