/// A policy file that failed validation: every problem, in file order.
public struct PolicyError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var diagnostics: [PolicyDiagnostic]

    public var description: String {
        diagnostics.map { $0.formatted(file: file) }.joined(separator: "\n")
    }
}
