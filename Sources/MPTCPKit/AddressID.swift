/// MPTCP address ids: 1...255 name an endpoint or a per-connection local
/// address; 0 is the initial subflow's (and, when adding, "let the kernel pick").
public enum AddressID {
    /// The ids that can be given to an address.
    public static let assignable: ClosedRange<UInt8> = 1...255

    /// The lowest id in 1...255 that `used` does not hold; nil when all 255 are
    /// taken. The one allocator of the planner, the connection engine and
    /// `PathManager`, so all pick the same id for the same state.
    public static func lowestFree(excluding used: Set<UInt8>) -> UInt8? {
        assignable.first { !used.contains($0) }
    }
}
