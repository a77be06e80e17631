import MPTCPKit

/// What steering knows of path health at one pass: each judged path's state,
/// what `on_path_down` says for it, and the evidence of its last transition.
/// A path missing from the view counts as `unknown` (healthy): a daemon
/// without probing steers exactly as before.
///
/// Written by the daemon's health thread, read by the planners
/// (`Planner.desiredEndpoints`, the connection engine, the routing planner)
/// as one immutable value per pass.
public struct PathHealthView: Hashable, Sendable {
    /// One path's verdict.
    public struct Verdict: Hashable, Sendable {
        public var state: PathHealthState
        public var onPathDown: ProbeSettings.OnPathDown
        /// Why it is in this state ("3 probes to 10.1.1.1 lost in a row"), for plan reasons and logs.
        public var evidence: String

        public init(state: PathHealthState, onPathDown: ProbeSettings.OnPathDown = .withdraw, evidence: String = "") {
            self.state = state
            self.onPathDown = onPathDown
            self.evidence = evidence
        }
    }

    public var paths: [PathKey: Verdict]

    public init(paths: [PathKey: Verdict] = [:]) { self.paths = paths }

    /// No health known: every path counts as healthy.
    public static let none = PathHealthView()

    /// The state of `key`; `unknown` when the view has no verdict for it.
    public func state(of key: PathKey) -> PathHealthState { paths[key]?.state ?? .unknown }
}
