/// Active evidence: probes sent, answered, lost.
extension PathHealth {
    /// Records a probe sent at `now` to `target` (nil: the path's only target).
    /// Its timeout is fixed now; call only when `dueProbe(at:)` said so.
    public mutating func probeSent(sequence: UInt16, at now: Duration, target: ProbeDestination? = nil) {
        outstanding.removeAll { $0.sequence == sequence }
        recentlyLost.removeAll { $0.sequence == sequence }
        if outstanding.count >= Self.outstandingLimit { outstanding.removeFirst() }
        outstanding.append(Probe(sequence: sequence, target: target, sentAt: now, deadline: now + probeTimeout))
        lastSentAt = now
    }

    /// An answer to probe `sequence` at `now`: an RTT sample; in time (not yet
    /// declared lost), also proof that the path works. Unknown sequences are ignored.
    @discardableResult
    public mutating func probeAnswered(sequence: UInt16, at now: Duration) -> [PathTransition] {
        if let i = outstanding.firstIndex(where: { $0.sequence == sequence }) {
            let probe = outstanding.remove(at: i)
            return answered(probe, at: now)
        }
        if let i = recentlyLost.firstIndex(where: { $0.sequence == sequence }) {
            // Late: the path carried it, only slower than the timeout. The sample
            // lengthens later timeouts; the losses of probes sent until it are
            // forgiven, not those of probes sent after it (an answer that queued
            // behind a download at a router just before the path went dark must
            // not restart the count). It does not lift `down` (the next probe,
            // with the longer timeout, decides).
            let probe = recentlyLost.remove(at: i)
            answeredTargets.insert(probe.target)
            guard isEvidence(probe.target) else { return [] }
            sampleRTT(now - probe.sentAt, from: probe.target)
            provenAlive(at: probe.sentAt)
            // One counted loss of the window was not one.
            if probe.counted, let j = outcomes.lastIndex(of: false) { outcomes[j] = true }
            return judgeFigures(at: now)
        }
        return []
    }

    /// Probe `sequence` failed outright at `now` (ICMP unreachable, ENETUNREACH):
    /// lost without waiting for its timeout.
    @discardableResult
    public mutating func probeFailed(sequence: UInt16, at now: Duration) -> [PathTransition] {
        guard let i = outstanding.firstIndex(where: { $0.sequence == sequence }) else { return [] }
        let probe = outstanding.remove(at: i)
        return lost(probe, at: now, why: "unreachable")
    }

    /// Declares lost the probes whose timeout expired by `now` and ends a
    /// recover hold that is over. Call at `nextDeadline()`, after draining answers.
    public mutating func tick(at now: Duration) -> [PathTransition] {
        var transitions: [PathTransition] = []
        let expired = outstanding.filter { $0.deadline <= now }.sorted { $0.sentAt < $1.sentAt }
        outstanding.removeAll { $0.deadline <= now }
        for probe in expired { transitions += lost(probe, at: now, why: "timed out") }
        if state == .degraded { transitions += judgeFigures(at: now) }
        return transitions
    }

    private mutating func answered(_ probe: Probe, at now: Duration) -> [PathTransition] {
        let rtt = now - probe.sentAt
        answeredTargets.insert(probe.target)
        // A near answer once a far target answered: the router lives, nothing more.
        guard isEvidence(probe.target) else { return [] }
        sampleRTT(rtt, from: probe.target)
        lastAnswerAt = now
        provenAlive(at: probe.sentAt)
        record(true)
        if state == .down {
            let target = probe.target.map { " from \($0)" } ?? ""
            return leaveDown(at: now, since: probe.sentAt, evidence: "probe answered\(target) in \(Self.format(rtt))")
        }
        return judgeFigures(at: now)
    }

    private mutating func lost(_ probe: Probe, at now: Duration, why: String) -> [PathTransition] {
        var probe = probe
        // A target that never answered is unreachable, not evidence of down.
        probe.counted = answeredTargets.contains(probe.target)
        recentlyLost.append(probe)
        if recentlyLost.count > ProbeSettings.lossWindow { recentlyLost.removeFirst() }
        guard probe.counted else { return [] }
        record(false)
        if state == .down {
            if settings.timeoutMilliseconds == nil { estimator.backOff() }
            return []
        }
        // Sent before the path was last seen to work: its target's loss (or a
        // queue's), not the path's; it does not lengthen the run.
        if let alive = aliveAt, probe.sentAt <= alive { return judgeFigures(at: now) }
        lossRun.append(probe.sentAt)
        if lossRun.count > ProbeSettings.lossRange.upperBound { lossRun.removeFirst() }
        if consecutiveLosses >= settings.loss {
            var evidence = "\(consecutiveLosses) probe\(consecutiveLosses == 1 ? "" : "s") lost in a row (last \(why)"
            if let target = probe.target { evidence += ", to \(target)" }
            evidence += ", timeout \(Self.format(probe.deadline - probe.sentAt))"
            if let last = lastAnswerAt { evidence += "; last answer \(Self.format(now - last)) ago" }
            evidence += ")"
            downCause = .probes
            failedSince = lossRun.min()
            return [move(to: .down, at: now, evidence: evidence)]
        }
        return judgeFigures(at: now)
    }

    /// The path carried traffic both ways at `moment` (a probe sent then was
    /// answered, or passive progress proves it): the run of losses is the
    /// counted lost probes sent after the latest such moment.
    mutating func provenAlive(at moment: Duration) {
        if let known = aliveAt, known >= moment { return }
        aliveAt = moment
        lossRun.removeAll { $0 <= moment }
    }

    /// Appends one judged outcome to the window of the last 10.
    mutating func record(_ answered: Bool) {
        outcomes.append(answered)
        if outcomes.count > ProbeSettings.lossWindow { outcomes.removeFirst(outcomes.count - ProbeSettings.lossWindow) }
    }
}
