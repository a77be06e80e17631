/// One problem in a policy file: `FILE:LINE: KEY: message`.
public struct PolicyDiagnostic: Hashable, Sendable, CustomStringConvertible {
    /// 1-based line, when the key could be located.
    public var line: Int?
    /// `kernel.limits.subflows`, `interface[2].role`; empty for the whole file.
    public var key: String
    public var message: String

    public init(line: Int?, key: String, message: String) {
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        (line.map { "\($0): " } ?? "") + (key.isEmpty ? "" : key + ": ") + message
    }

    /// `FILE:LINE: KEY: message`, or `FILE: KEY: message` when the line is unknown.
    public func formatted(file: String) -> String { file + (line == nil ? ": " : ":") + description }
}
