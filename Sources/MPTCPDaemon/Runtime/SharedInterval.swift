import NIOConcurrencyHelpers
import FoundationEssentials
import Logging
import Metrics
import MPTCPKit
import MPTCPPolicy
import ServiceLifecycle
import Synchronization
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

/// The resync interval, shared between the loop (which writes it on reload) and the timer task.
final class SharedInterval: Sendable {
    let value: Synchronization.Atomic<Int>
    init(_ seconds: Int) { value = Synchronization.Atomic(seconds) }
}
