import MPTCPKit

/// What path health does to the addresses the policy wants (`Planner.desiredEndpoints`
/// with a `PathHealthView`), for both path managers:
///
/// - a `down` path is treated like a dead link: with `on_path_down = "withdraw"`
///   its addresses are not wanted (the in-kernel PM's endpoint is deleted, which
///   sends RM_ADDR over a live subflow; the userspace PM withdraws the address and
///   closes its subflows); with `"backup"` they are wanted as backup;
/// - but a `down` path whose connections have data in flight
///   (`PathHealthView.Verdict.inFlight`) is made backup, not withdrawn, until
///   they have none: Linux marks a subflow that stops acking stale and re-sends
///   its data over the others by itself, and closing it (here, or at the peer
///   on RM_ADDR) makes it re-send the connection's whole MPTCP retransmit queue
///   (`__mptcp_retransmit_pending_data`) a second time: a second stall of
///   0.2–0.3 s at 50 Mbit/s that the kernel alone does not have;
/// - a `degraded` path becomes backup while another path of its family is `up`;
/// - neither happens to the last path of a family that carries anything: a
///   `down` path stays as it is while every other path of its family is `down`
///   too (the reason says "but no other path"), a `degraded` one while no other is
///   `up` (or `unknown`, which counts as `up`).
///
/// A path is an interface and a family (`PathKey`); a path the view has no
/// verdict for steers as before. On healing the next plan simply wants the
/// address again (and the userspace PM forgets the path's backoff,
/// `ConnectionTracker.update`); subflows kept through the outage (backup, or the
/// last path of a family) are rebuilt once per heal, their retransmission timer
/// having backed off (`PathHealthView.healed(since:)`: the userspace PM destroys
/// and re-creates them, the in-kernel PM's endpoint is replaced, `Planner.plan`).
enum PathSteering {
    /// The steered addresses, and those withdrawn with why ("eth1/ipv4 is down: …").
    struct Outcome {
        var endpoints: [DesiredEndpoint]
        var withdrawn: [IPAddress: String] = [:]
    }

    static func steer(_ wanted: [DesiredEndpoint], health: PathHealthView) -> Outcome {
        guard !health.paths.isEmpty else { return Outcome(endpoints: wanted) }
        let paths = Set(wanted.map(key))
        var outcome = Outcome(endpoints: [])
        for var d in wanted {
            let k = key(d)
            guard let verdict = health.paths[k] else {
                outcome.endpoints.append(d)
                continue
            }
            d.health = verdict.state
            let evidence = verdict.evidence.isEmpty ? "" : ": " + verdict.evidence
            let family = paths.filter { $0.family == k.family && $0 != k }.sorted()
            switch verdict.state {
            case .unknown, .up:
                break
            case .down:
                // Anything still carrying packets (up, unknown or degraded) is a way out.
                let alive = family.filter { health.state(of: $0) != .down }
                guard let other = alive.first else {
                    d.reason += "; \(k) is down\(evidence), but no other \(k.family.rawValue) path is usable: kept"
                    break
                }
                switch verdict.onPathDown {
                case .withdraw where verdict.inFlight:
                    demote(&d, because: "\(k) is down\(evidence); backup while \(other) is usable, withdrawn (on_path_down = "
                        + "\"withdraw\") once its connections have no data in flight: closing their subflows now would "
                        + "make the kernel re-send all their unacknowledged data")
                case .withdraw:
                    outcome.withdrawn[d.address] = "\(k) is down\(evidence); withdrawn (on_path_down = \"withdraw\") while \(other) is usable"
                    continue
                case .backup:
                    demote(&d, because: "\(k) is down\(evidence); backup (on_path_down = \"backup\") while \(other) is usable")
                }
            case .degraded:
                guard let other = family.first(where: { health.state(of: $0).isUsable }) else {
                    d.reason += "; \(k) is degraded\(evidence), but no other \(k.family.rawValue) path is up: kept"
                    break
                }
                demote(&d, because: "\(k) is degraded\(evidence); backup while \(other) is up")
            }
            outcome.endpoints.append(d)
        }
        // A demoted address ranks as backup now.
        outcome.endpoints.sort(by: Planner.priority)
        return outcome
    }

    /// The path an address is on.
    static func key(_ d: DesiredEndpoint) -> PathKey {
        PathKey(interface: d.interfaceName, family: d.address.isIPv4 ? .ipv4 : .ipv6)
    }

    /// Backup for both path managers: the endpoint's flag, and the role the
    /// userspace PM steers by (active-backup may promote it again when nothing
    /// healthier is left).
    private static func demote(_ d: inout DesiredEndpoint, because why: String) {
        d.flags.insert(.backup)
        if d.role == .active { d.role = .backup }
        d.reason += "; " + why
    }
}
