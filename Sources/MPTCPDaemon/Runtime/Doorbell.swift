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

/// Why the loop should run a pass; several may pile up while one runs.
struct Pending: OptionSet, Sendable {
    let rawValue: Int
    static let network = Pending(rawValue: 1)
    static let reload = Pending(rawValue: 2)
    static let resync = Pending(rawValue: 4)
    static let lost = Pending(rawValue: 8)
    static let retry = Pending(rawValue: 16)
    static let mptcp = Pending(rawValue: 32)
    static let timer = Pending(rawValue: 64)
}

/// Coalesces triggers: producers set bits and ring; the loop takes all bits at once.
final class Doorbell: Sendable {
    private let pending = NIOLockedValueBox<Pending>([])
    let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func ring(_ why: Pending) {
        pending.withLockedValue { $0.formUnion(why) }
        continuation.yield()
    }

    func take() -> Pending { pending.withLockedValue { p in defer { p = [] }; return p } }

    func close() { continuation.finish() }
}
