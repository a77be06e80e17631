/// `interface.notify`: re-examine `interface` (nil: all of them) now; `action`
/// is what happened, as a dispatcher names it (one word, for the log).
public struct InterfaceNotifyParams: ControlParams {
    public static let names: Set<String> = ["interface", "action"]
    public var interface: String?
    public var action: String?

    public init(interface: String?, action: String?) {
        self.interface = interface
        self.action = action
    }

    public init(_ p: RPCParams) throws(RPCError) {
        interface = try p.string("interface")
        action = try p.string("action")
        if let action, action.isEmpty || action.count > 64 || !action.allSatisfy({ $0.isASCII && !$0.isWhitespace }) {
            throw .invalidParams("params.action: a word such as \"up\" or \"dhcp4-change\", not \"\(action)\"")
        }
    }

    public var params: [String: JSONValue] {
        var p: [String: JSONValue] = [:]
        if let action { p["action"] = .string(action) }
        if let interface { p["interface"] = .string(interface) }
        return p
    }
}
