/// A recurring report's share of the log: at most one line per interval; the
/// reports in between are held back and counted, and the next line says how many
/// (a burst cannot flood the journal). A counter beside it should count every
/// report: the ones held back after the last line are never logged, unless
/// another report comes and its line is due.
/// A value type, owned by whoever reports.
public struct ReportBudget: Sendable, Equatable {
    public let intervalMilliseconds: Int
    private var lastLine: Int?
    /// Reports held back since the last line.
    public private(set) var heldBack = 0

    public init(intervalMilliseconds: Int) {
        self.intervalMilliseconds = intervalMilliseconds
    }

    /// A report at `now` (monotonic ms): nil when it is held back, otherwise how
    /// many were held back before it (its line should say so).
    public mutating func admit(at now: Int) -> Int? {
        if let lastLine, now - lastLine < intervalMilliseconds {
            heldBack += 1
            return nil
        }
        lastLine = now
        defer { heldBack = 0 }
        return heldBack
    }
}
