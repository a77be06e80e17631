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

/// CPU time of the calling thread, ns.
func threadCPUNanoseconds() -> UInt64 {
    var t = timespec()
    guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) == 0 else { return 0 }
    return UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
}
