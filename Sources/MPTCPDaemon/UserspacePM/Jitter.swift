import NIOConcurrencyHelpers
import Logging
import Metrics
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// SplitMix64, seeded from the system generator: jitter needs spread, not secrecy.
struct Jitter {
    private var state: UInt64

    init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    /// A number in 0..<1.
    mutating func unit() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(UInt64(1) << 53)
    }
}
