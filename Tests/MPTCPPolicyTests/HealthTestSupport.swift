import MPTCPKit
@testable import MPTCPPolicy

/// Milliseconds as a `Duration`, for readable health tests.
func ms(_ n: Int) -> Duration { .milliseconds(n) }

/// Drives one `PathHealth` the way the daemon will: wake at `nextDeadline()`
/// (or when an answer arrives), deliver answers, tick, send a probe when due.
/// Time is simulated: no clock, no sleeping.
struct HealthDriver {
    var health: PathHealth
    var now: Duration = .zero
    var sequence: UInt16 = 0
    var transitions: [PathTransition] = []
    var sent: [Duration] = []
    /// Answers on their way: (sequence, arrival).
    var pending: [(UInt16, Duration)] = []

    init(_ settings: ProbeSettings = ProbeSettings(), key: PathKey = PathKey(interface: "eth1", family: .ipv4)) {
        health = PathHealth(key: key, settings: settings)
    }

    /// Runs until `end`. A probe sent at time s is answered after `rtt(s)`,
    /// or never when `rtt(s)` is nil.
    mutating func run(until end: Duration, rtt: (Duration) -> Duration?) {
        while true {
            let next = ([health.nextDeadline()].compactMap { $0 } + pending.map(\.1)).min()
            guard let next, next <= end else { break }
            now = Swift.max(now, next)
            let arrived = pending.filter { $0.1 <= now }
            pending.removeAll { $0.1 <= now }
            for (seq, _) in arrived { transitions += health.probeAnswered(sequence: seq, at: now) }
            transitions += health.tick(at: now)
            if health.dueProbe(at: now) {
                sequence &+= 1
                health.probeSent(sequence: sequence, at: now)
                sent.append(now)
                if let r = rtt(now) { pending.append((sequence, now + r)) }
            }
        }
        now = end
    }
}
