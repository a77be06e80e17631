/// When each MPTCP connection last moved data at the connection level, across
/// connection-table readings: our data acknowledged (`snd_una` grew) or the
/// peer's received in order (`rcv_nxt` grew). Subflow-level activity is no
/// proof: a connection whose data is stuck on a dead path's subflow still
/// exchanges ACKs and out-of-order data on the others.
///
/// The health reading asks it whether a connection with data in flight is
/// *moving* (`TrafficReading.isInFlight` and `moving`): one that moved within
/// `window` has had its data carried by the other paths (the kernel marked the
/// dead path's subflow stale), so closing that subflow would only make it
/// re-send its window; one that did not is stuck on the dead path, and closing
/// is what frees it. Owned by one reader (the daemon's health thread).
public struct ConnectionProgress: Sendable {
    struct Mark: Sendable {
        var sendUnacknowledged: UInt64?
        var receiveNext: UInt64?
        /// When `snd_una`, and `rcv_nxt`, last grew (or were first seen).
        var sentMovedAt: ContinuousClock.Instant
        var receivedMovedAt: ContinuousClock.Instant
    }

    private var marks: [UInt32: Mark] = [:]
    private var seen: Set<UInt32> = []

    /// Longer than two readings of a busy table (200 ms apart) and than the
    /// kernel's own switch of a transfer to the paths left (0.2-0.5 s
    /// measured); shorter than detecting a dead path (about 1 s).
    public static let window: Duration = .milliseconds(500)

    public init() {}

    /// Records connection `token`'s figures read at `now`; whether it moved
    /// data within `window`: with data of ours unacknowledged, whether
    /// `snd_una` grew (a download flowing the other way does not free a
    /// stuck upload), else whether `rcv_nxt` did. A connection seen for the
    /// first time, or whose kernel does not give them, counts as moving.
    public mutating func moving(token: UInt32, info: MPTCPInfo, at now: ContinuousClock.Instant) -> Bool {
        seen.insert(token)
        guard let una = info.sendUnacknowledged, let rcv = info.receiveNext else { return true }
        guard var mark = marks[token] else {
            marks[token] = Mark(sendUnacknowledged: una, receiveNext: rcv, sentMovedAt: now, receivedMovedAt: now)
            return true
        }
        if mark.sendUnacknowledged != una { mark.sendUnacknowledged = una; mark.sentMovedAt = now }
        if mark.receiveNext != rcv { mark.receiveNext = rcv; mark.receivedMovedAt = now }
        marks[token] = mark
        let sending = info.writeSequence.map { $0 != una } ?? false
        return now - (sending ? mark.sentMovedAt : mark.receivedMovedAt) < Self.window
    }

    /// Forgets the connections not seen since the previous call: call once
    /// after each reading.
    public mutating func endReading() {
        marks = marks.filter { seen.contains($0.key) }
        seen = []
    }

    /// How many connections are remembered (for tests).
    public var count: Int { marks.count }
}
