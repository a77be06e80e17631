/// Near and far targets: once a far target answered, the gateway's answers are
/// no evidence of life (see `PathHealth`, "Near and far targets").
extension PathHealth {
    /// Takes the destinations the caller probes now (its rotation's list).
    /// A far target that answered counts for the near/far rule only while it is
    /// among them: when the last peer that answered is gone (its connections
    /// closed), the gateway's answers count again, or a `down` path probed at
    /// its gateway alone could never come back.
    /// What is known of targets no longer probed is forgotten (a long-running
    /// client's `peers` come and go with its connections): one that comes
    /// back must answer again before its losses count.
    public mutating func retarget(_ destinations: [ProbeDestination]) {
        let probed = Set(destinations)
        probedDestinations = probed
        answeredFar.formIntersection(probed)
        answeredTargets = answeredTargets.filter { $0.map { probed.contains($0) } ?? true }
    }

    /// Whether a far target still probed has answered: then near answers are no evidence.
    public var farTargetAnswered: Bool {
        guard let probed = probedDestinations else { return !answeredFar.isEmpty }
        return answeredFar.contains { probed.contains($0) }
    }

    /// The path's round trip to a far target as it is now: the largest of the
    /// smoothed RTT and the last samples (a queue filling shows in the samples
    /// before the average catches up); nil until a far target still probed has
    /// answered (a gateway's RTT says nothing of the queues beyond it).
    public var farRoundTrip: Duration? {
        guard estimatorHasFarSample, farTargetAnswered, let srtt = estimator.srtt else { return nil }
        return ([srtt] + estimator.recent).max()
    }

    /// Whether an answer from `target` is evidence about the path: always for
    /// a far target (nil: the path's only target), for a near one only until a
    /// far target answered.
    func isEvidence(_ target: ProbeDestination?) -> Bool {
        guard let target, target.isNear else { return true }
        return !farTargetAnswered
    }

    /// Feeds the estimator one answer's RTT. The first far sample restarts an
    /// estimator fed by near answers only: the far timeouts need the far RTT.
    mutating func sampleRTT(_ rtt: Duration, from target: ProbeDestination?) {
        if target?.isNear != true {
            if !estimatorHasFarSample, estimator.srtt != nil {
                estimator = RTTEstimator(floor: estimator.floor, ceiling: estimator.ceiling)
            }
            estimatorHasFarSample = true
            if let target { answeredFar.insert(target) }
        }
        estimator.sample(rtt)
    }
}
