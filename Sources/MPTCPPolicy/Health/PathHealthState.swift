/// The health of one path.
public enum PathHealthState: String, Hashable, Sendable, Codable, CaseIterable {
    /// No evidence yet (no probe answered, no passive verdict): treated as `up`.
    case unknown
    /// Carries packets with RTT and loss within `max_rtt` / `max_loss`.
    case up
    /// Carries packets, but RTT or loss is over its limit: becomes backup while another path is healthy.
    case degraded
    /// Carries nothing: treated like a dead link (`on_path_down`).
    case down

    /// Whether steering may use the path as a healthy one (`unknown` counts as `up`).
    public var isUsable: Bool { self == .up || self == .unknown }
}
