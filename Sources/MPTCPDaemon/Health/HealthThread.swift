import FoundationEssentials
import Logging
import Metrics
import MPTCPKit
import MPTCPPolicy
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// The health thread (`mptcpctld-health`): owns the probe sockets and one
/// `PathHealth` per path (`HealthEngine`). The endpoint thread hands it the
/// paths of each pass (`handOver`, a locked mailbox plus a self-pipe it polls
/// with its sockets); it sends the probes due, reads their answers, reads the
/// connection table for passive evidence (every 200 ms while subflows carry
/// traffic, every second otherwise), and reports each transition (log, event,
/// metrics), then publishes the verdicts on the `HealthBoard` and rings the
/// endpoint thread's doorbell (`.health`) so steering follows.
final class HealthThread: WatcherThread, @unchecked Sendable {
    /// The daemon's namespace; `.current` once the thread entered it (its first
    /// step): a probe opened through a named namespace would cost a thread each.
    private var namespace: NetworkNamespace
    private var entered = false
    private let hub: EventHub
    private let doorbell: Doorbell
    private let board: HealthBoard
    /// The paths of the latest pass not yet taken (endpoint thread → health thread).
    private let mailbox = NIOLockedValueBox<[ProbePath]?>(nil)
    /// A self-pipe rung by `handOver` and `interrupt`: the thread polls the read end.
    private let wake: Int32
    private let wakeWrite: Int32

    // The health thread's own state.
    private var engine = HealthEngine(firstSequence: UInt16.random(in: 1...UInt16.max))
    private let sockets: ProbeSockets
    private let start = ContinuousClock.now
    private var nextPassive: Duration = .zero
    /// When each connection last moved data (`ConnectionProgress`): a down
    /// path's withdrawal waits only for connections still moving.
    private var progress = ConnectionProgress()
    private var passiveFailed = false
    /// The verdicts last published (without the board's heal counts).
    private var published = PathHealthView.none

    /// Nil when the wake-up descriptor cannot be made (the daemon then runs without health).
    init?(namespace: NetworkNamespace, hub: EventHub, doorbell: Doorbell, board: HealthBoard, logger: Logger) {
        var fds: [Int32] = [0, 0]
        // Non-blocking: the thread drains it until empty (`read` > 0) and must not wait there.
        guard pipe(&fds) == 0 else {
            logger.error("cannot make the health thread's wake-up pipe; running without path health",
                         metadata: ["errno": "\(errno)"])
            return nil
        }
        for fd in fds where fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 {
            logger.error("cannot make the health thread's wake-up pipe non-blocking; running without path health",
                         metadata: ["errno": "\(errno)", "fd": "\(fd)"])
            close(fds[0])
            close(fds[1])
            return nil
        }
        (wake, wakeWrite) = (fds[0], fds[1])
        self.namespace = namespace
        self.hub = hub
        self.doorbell = doorbell
        self.board = board
        sockets = ProbeSockets(namespace: namespace, logger: logger)
        super.init(what: "the path health thread", name: "mptcpctld-health", logger: logger)
    }

    deinit {
        _ = close(wake)
        _ = close(wakeWrite)
    }

    /// The paths to judge from now on (endpoint thread, after each pass).
    func handOver(_ paths: [ProbePath]) {
        mailbox.withLockedValue { $0 = paths }
        ring()
    }

    override func interrupt() { ring() }

    private func ring() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private var now: Duration { ContinuousClock.now - start }

    override func step() {
        if !entered {
            entered = true
            do {
                try namespace.enterOnThisThread()
                namespace = .current
                sockets.namespace = .current
            } catch {
                logger.error("the health thread cannot enter the daemon's namespace; each probe enters it alone",
                             metadata: ["error": "\(error)"])
            }
        }
        var transitions: [PathTransition] = []
        if let paths = mailbox.withLockedValue({ box -> [ProbePath]? in defer { box = nil }; return box }) {
            let gone = engine.apply(paths)
            for key in gone { sockets.close(key) }
            if !gone.isEmpty {
                published = engine.view
                board.publish(published)
            }
        }
        sendDue()
        let ready = waitForAnswers()
        if ready.contains(wake) {
            var bytes = [UInt8](repeating: 0, count: 64)
            while read(wake, &bytes, bytes.count) > 0 {}
        }
        for outcome in sockets.collect(ready) {
            switch outcome {
            case .answered(let key, let s): transitions += engine.answered(key, sequence: s, at: now)
            case .failed(let key, let s): transitions += failed(key, s)
            }
        }
        let ticked = engine.tick(at: now)
        transitions += ticked.transitions
        for (key, sequences) in ticked.expired {
            sockets.expire(key, sequences: sequences)
            Counter(label: "mptcpctld_probes_lost_total").increment(by: sequences.count)
        }
        // A path going down is steered by whether its connections have data in
        // flight: read it now rather than trust a reading up to a second old.
        if now >= nextPassive || transitions.contains(where: { $0.to == .down }) { transitions += samplePassively() }
        publish(transitions)
    }

    /// Sends every probe due now.
    private func sendDue() {
        for probe in engine.dueProbes(at: now) {
            guard let path = engine.probers[probe.key]?.path else { continue }
            Counter(label: "mptcpctld_probes_sent_total").increment()
            switch sockets.send(path, to: probe.target, sequence: probe.sequence) {
            case .answered(let key, let s)?: publish(engine.answered(key, sequence: s, at: now))
            case .failed(let key, let s)?: publish(failed(key, s))
            case nil: break
            }
        }
    }

    private func failed(_ key: PathKey, _ sequence: UInt16) -> [PathTransition] {
        let before = engine.probers[key]?.lost ?? 0
        let t = engine.failed(key, sequence: sequence, at: now)
        let after = engine.probers[key]?.lost ?? 0
        if after > before { Counter(label: "mptcpctld_probes_lost_total").increment(by: after - before) }
        return t
    }

    /// Polls the sockets and the wake-up until the next deadline (at most 500 ms).
    private func waitForAnswers() -> Set<Int32> {
        let current = now
        let deadline = [engine.nextDeadline, nextPassive].compactMap { $0 }.min() ?? current + .milliseconds(500)
        let left = deadline > current ? deadline - current : .zero
        let ms = min(500, max(0, Int32(HealthReport.milliseconds(left).rounded(.up))))
        do { return try ProbeWait.ready(sockets.descriptors + [wake], timeoutMilliseconds: ms) } catch {
            logger.error("waiting for health probes failed", metadata: ["error": "\(error)"])
            usleep(100_000)
            return []
        }
    }

    /// Reads the connection table and feeds each path's sample.
    private func samplePassively() -> [PathTransition] {
        let reading: PassiveReading
        do {
            let addresses = Set(engine.probers.values.flatMap(\.path.addresses))
            reading = try PassiveReading.read(namespace: namespace, addresses: addresses, progress: &progress)
            if passiveFailed { logger.notice("reading connections for path health works again") }
            passiveFailed = false
        } catch {
            if !passiveFailed { logger.warning("cannot read connections for path health", metadata: ["error": "\(error)"]) }
            passiveFailed = true
            engine.passiveFailed()
            nextPassive = now + PassiveReading.idleInterval
            return []
        }
        let at = now
        nextPassive = at + (reading.isBusy ? PassiveReading.busyInterval : PassiveReading.idleInterval)
        return engine.passive(reading, at: at)
    }

    /// Reports the transitions, then publishes what `paths` shows, and the
    /// verdicts with a ring of the doorbell when anything changed.
    private func publish(_ transitions: [PathTransition]) {
        for t in transitions { HealthReport.report(t, logger: logger, hub: hub) }
        for (key, prober) in engine.probers {
            if let srtt = prober.health.srtt {
                Gauge(label: "mptcpctld_probe_rtt_seconds", dimensions: labels(key)).record(HealthReport.milliseconds(srtt) / 1000)
            }
        }
        let current = now
        let wallNow = Date().timeIntervalSince1970
        board.publish(paths: engine.records { at in wallNow - HealthReport.milliseconds(current - at) / 1000 })
        // A transition, or data in flight on a down path starting or ending
        // (`PathHealthView.Verdict.inFlight`): nothing else rings for a pass.
        let view = engine.view
        guard !transitions.isEmpty || Self.inFlight(view) != Self.inFlight(published) else { return }
        published = view
        board.publish(view)
        doorbell.ring(.health)
    }

    /// The paths whose withdrawal waits for data in flight.
    private static func inFlight(_ view: PathHealthView) -> Set<PathKey> {
        Set(view.paths.filter(\.value.inFlight).keys)
    }

    private func labels(_ key: PathKey) -> [(String, String)] { [("interface", key.interface), ("family", key.family.rawValue)] }

    /// After `join`: the sockets are closed and the board says no health runs.
    func finish() {
        sockets.closeAll()
        board.setRunning(false)
    }
}
