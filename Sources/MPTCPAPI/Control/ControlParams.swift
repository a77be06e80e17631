/// A method's parameters, typed: the CLI writes them with `params`, the daemon
/// reads them with `init(_:)` (which refuses unknown names, and names the
/// parameter in every error).
public protocol ControlParams: Hashable, Sendable {
    /// Every parameter the method takes.
    static var names: Set<String> { get }
    /// Reads and checks the request's parameters.
    init(_ params: RPCParams) throws(RPCError)
    /// The parameters as a request carries them (absent ones left out).
    var params: [String: JSONValue] { get }
}

extension ControlParams {
    /// Checks the names against `names` first, then reads the values.
    public init(request params: [String: JSONValue]) throws(RPCError) {
        try self.init(try RPCParams(params, allowed: Self.names))
    }
}

/// The parameters of a method that takes none.
public struct NoParams: ControlParams {
    public static let names: Set<String> = []
    public init() {}
    public init(_ params: RPCParams) {}
    public var params: [String: JSONValue] { [:] }
}
