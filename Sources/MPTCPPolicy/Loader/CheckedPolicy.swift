/// A valid policy and what is worth saying about it without refusing it.
public struct CheckedPolicy: Sendable {
    public var policy: Policy
    /// Parts of the file that are valid but have no effect, in file order.
    public var warnings: [PolicyDiagnostic]
}
