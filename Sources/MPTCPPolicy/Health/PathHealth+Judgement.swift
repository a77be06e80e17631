/// The figures (RTT, loss) and the transitions they cause.
extension PathHealth {
    /// Why the figures are over their limits, or nil when they are within.
    ///
    /// The RTT makes a path `degraded` when the smoothed RTT is over `max_rtt`
    /// and so were the last `RTTEstimator.recentCount` samples, each; it stays
    /// `degraded` while the smoothed RTT is over. One slow answer is not a slow
    /// path: an IPv6 path's first probe waits for neighbour discovery and
    /// duplicate address detection (up to 2 s on a fresh link), and as the first
    /// sample it seeds a smoothed RTT that takes a dozen fast answers to decay.
    var badFigures: String? {
        if let limit = settings.maxRTT, let srtt = estimator.srtt, srtt > limit,
           state == .degraded || (estimator.recent.count == RTTEstimator.recentCount && estimator.recent.allSatisfy { $0 > limit }) {
            return "smoothed RTT \(Self.format(srtt)) over max_rtt \(Self.format(limit))"
        }
        if let limit = settings.maxLossPercent, outcomes.count >= ProbeSettings.lossWindow, let loss = lossPercent, loss > limit {
            return "\(loss) % of the last \(outcomes.count) probes lost, over max_loss \(limit) %"
        }
        return nil
    }

    /// Up, unknown or degraded: moves between them on the figures, with the
    /// recover hold on the way back up.
    mutating func judgeFigures(at now: Duration) -> [PathTransition] {
        if let bad = badFigures {
            goodSince = nil
            guard state != .degraded && state != .down else { return [] }
            return [move(to: .degraded, at: now, evidence: bad)]
        }
        switch state {
        case .unknown:
            if lastAnswerAt != nil { state = .up }
            return []
        case .degraded:
            guard let answer = lastAnswerAt else { return [] }
            let since = goodSince ?? answer
            goodSince = since
            guard now - since >= settings.recoverHold, answer >= since else { return [] }
            goodSince = nil
            return [move(to: .up, at: now, evidence: "RTT and loss within limits for recover_hold (\(Self.format(settings.recoverHold)))")]
        case .up, .down:
            return []
        }
    }

    /// Down → up at once on the first evidence of life (or degraded if the
    /// RTT is still over `max_rtt`); the outage's losses are forgotten.
    /// Probes sent before `since` went into the outage: they are no longer
    /// judged (a late answer still gives an RTT sample).
    mutating func leaveDown(at now: Duration, since: Duration, evidence: String) -> [PathTransition] {
        let outage = outstanding.filter { $0.sentAt < since }
        outstanding.removeAll { $0.sentAt < since }
        recentlyLost = (recentlyLost + outage).suffix(ProbeSettings.lossWindow).map { var p = $0; p.counted = false; return p }
        outcomes = outcomes.last == true ? [true] : []
        lossRun = []
        failedSince = nil
        downCause = nil
        goodSince = nil
        if let bad = badFigures { return [move(to: .degraded, at: now, evidence: evidence + "; " + bad)] }
        return [move(to: .up, at: now, evidence: evidence)]
    }

    /// Changes state and reports it with the figures of the moment.
    mutating func move(to new: PathHealthState, at now: Duration, evidence: String) -> PathTransition {
        let transition = PathTransition(key: key, from: state, to: new, at: now, evidence: evidence,
                                        rttMilliseconds: estimator.srtt.map(Self.milliseconds), lossPercent: lossPercent)
        state = new
        lastTransition = transition
        return transition
    }

    static func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }

    /// `850 ms`, `1.3 s`.
    static func format(_ d: Duration) -> String {
        let ms = milliseconds(d)
        if ms < 1000 { return "\(Int(ms.rounded())) ms" }
        return "\((ms / 100).rounded() / 10) s"
    }
}
