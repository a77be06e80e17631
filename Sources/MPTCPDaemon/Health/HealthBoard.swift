import MPTCPPolicy
import NIOConcurrencyHelpers

/// Path health shared between threads: the health thread (`mptcpctld-health`)
/// is its one writer; the endpoint thread reads `view` once per pass (steering),
/// control requests read it for `paths` and `status`. Everything else of path
/// health (probe sockets, the per-path state machines) is the health thread's alone.
final class HealthBoard: Sendable {
    private let box = NIOLockedValueBox(PathHealthView.none)

    /// The verdicts as of the health thread's last transition.
    var view: PathHealthView { box.withLockedValue { $0 } }

    /// Replaces the verdicts (health thread only).
    func publish(_ view: PathHealthView) { box.withLockedValue { $0 = view } }
}
