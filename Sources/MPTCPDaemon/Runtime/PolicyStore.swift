import FoundationEssentials
import MPTCPPolicy
import NIOConcurrencyHelpers

/// The running policy, in one place: read by everyone (the endpoint thread's
/// reconciler and loop, the control API, the hook runner, metrics), written
/// only by start-up and a reload, and a reload is one write (the policy, when
/// it was loaded and how many reloads there were change together).
final class PolicyStore: Sendable {
    /// The policy with when it was loaded.
    struct Loaded: Sendable {
        var policy: Policy
        /// When it was loaded (seconds since 1970).
        var loadedAt: Double
        /// Reloads since start-up.
        var reloads: Int
    }

    private let value: NIOLockedValueBox<Loaded>

    init(_ policy: Policy) {
        value = NIOLockedValueBox(Loaded(policy: policy, loadedAt: Date().timeIntervalSince1970, reloads: 0))
    }

    /// The running policy.
    var current: Policy { value.withLockedValue { $0.policy } }

    /// The running policy with its load time and the reload count, read together.
    var loaded: Loaded { value.withLockedValue { $0 } }

    /// A reload: the new policy replaces the running one, for every reader at once.
    func replace(with policy: Policy) {
        value.withLockedValue {
            $0 = Loaded(policy: policy, loadedAt: Date().timeIntervalSince1970, reloads: $0.reloads + 1)
        }
    }
}
