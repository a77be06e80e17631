import MPTCPAPI
import MPTCPPolicy
import NIOConcurrencyHelpers

/// Path health shared between threads: the health thread (`mptcpctld-health`)
/// is its one writer; the endpoint thread reads `view` once per pass (steering),
/// control requests read it for `paths` and `status`. Everything else of path
/// health (probe sockets, the per-path state machines) is the health thread's alone.
final class HealthBoard: Sendable {
    private struct Content: Sendable {
        var view = PathHealthView.none
        var paths: [PathRecord] = []
        var running = false
        /// Times each path left `down` (kept when a path leaves the view: a
        /// count never goes back while the thread runs).
        var heals: [PathKey: Int] = [:]
    }

    private let box = NIOLockedValueBox(Content())

    /// The verdicts as of the health thread's last transition, or its last
    /// change of a `down` path's data in flight.
    var view: PathHealthView { box.withLockedValue { $0.view } }

    /// What `paths` shows, as of the health thread's last step; nil when the
    /// health thread does not run.
    var paths: [PathRecord]? { box.withLockedValue { $0.running ? $0.paths : nil } }

    /// Replaces the verdicts (health thread only), counting the heals: a path
    /// `down` in the verdicts replaced and not `down` in these left `down` once
    /// more (`PathHealthView.Verdict.heals`). The thread publishes after every
    /// step with a transition, so only a path that went down, healed and went down
    /// again within one step goes uncounted, and it needs no rebuild then: it is
    /// down.
    func publish(_ view: PathHealthView) {
        box.withLockedValue { content in
            var counted = view
            for (key, verdict) in view.paths {
                if content.view.paths[key]?.state == .down && verdict.state != .down { content.heals[key, default: 0] += 1 }
                counted.paths[key]?.heals = content.heals[key] ?? 0
            }
            content.view = counted
        }
    }

    /// Replaces what `paths` shows (health thread only).
    func publish(paths: [PathRecord]) { box.withLockedValue { $0.paths = paths } }

    /// The health thread started (true) or stopped (false): a stopped one's verdicts are gone.
    func setRunning(_ running: Bool) {
        box.withLockedValue {
            $0.running = running
            if !running { $0 = Content() }
        }
    }

    /// `status`'s `paths`: how many judged paths are in each state; nil without a health thread.
    var summary: PathsSummaryRecord? {
        guard let paths else { return nil }
        var s = PathsSummaryRecord()
        for p in paths {
            switch p.state {
            case "up": s.up += 1
            case "degraded": s.degraded += 1
            case "down": s.down += 1
            default: s.unknown += 1
            }
        }
        return s
    }
}
