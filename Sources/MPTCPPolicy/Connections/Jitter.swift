/// SplitMix64: the retry jitter's generator. Seeded by the caller (the daemon
/// from the system generator, tests with a constant), so the tracker is
/// deterministic; jitter needs spread, not secrecy.
public struct Jitter: Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    /// A number in 0..<1.
    public mutating func unit() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(UInt64(1) << 53)
    }
}
