import MPTCPKit

/// How a frame is laid out as text.
public struct TopTextOptions: Sendable {
    public var sort: TopSortKey
    /// At most this many connections (the `--connections N` option).
    public var connections: Int
    /// Terminal rows; connection rows beyond them are left out. Nil: no limit.
    public var height: Int?
    /// Whether the keys are live (a terminal): the header names them.
    public var interactive: Bool
    /// Block characters for the sparklines; else ASCII.
    public var unicode: Bool
    /// The wall-clock time to show in the header, formatted by the caller (local time).
    public var clock: String?

    public init(sort: TopSortKey = .rate, connections: Int = 10, height: Int? = nil, interactive: Bool = false,
                unicode: Bool = false, clock: String? = nil) {
        self.sort = sort
        self.connections = connections
        self.height = height
        self.interactive = interactive
        self.unicode = unicode
        self.clock = clock
    }
}

extension TopFrame {
    /// The frame as lines of at most `width` characters: a header, the paths
    /// with their total, then the connections sorted by `options.sort`.
    public func lines(width: Int, _ options: TopTextOptions) -> [String] {
        // The keys get a line of their own: on a narrow terminal the header is clipped, never them.
        var out: [String] = [header(options)]
        out.append(options.interactive ? "sort: \(options.sort.rawValue) ([s] next)  [q] quit" : "")
        let pathWidth = max(12, paths.map { $0.interface.count + $0.family.count + 1 }.max() ?? 0)
        func pathLine(_ cells: [String]) -> String {
            TopText.row(cells, widths: [pathWidth, 5, 8, 3, 7, 10, 10, 9, 5], rightAligned: [3, 5, 6, 7, 8])
        }
        let head = pathLine(["PATH", "LINK", "HEALTH", "SF", "MODE", "SENT/s", "RECV/s", "RTT", "RETR"])
        out.append(head + (width - head.count > 4 ? "  HISTORY" : ""))
        let scale = paths.flatMap(\.history).max() ?? 0
        for p in paths {
            let line = pathLine([
                p.interface + "/" + p.family, p.linkUp.map { $0 ? "up" : "down" } ?? "gone", p.health ?? "-",
                String(p.subflows), p.mode, TopText.rate(p.sentPerSecond), TopText.rate(p.receivedPerSecond),
                p.rttMilliseconds.map(TopText.milliseconds) ?? "-", String(p.carried.retransmissions),
            ])
            let room = width - line.count - 2
            out.append(room > 2 ? line + "  " + TopText.sparkline(p.history, width: room, scale: scale, unicode: options.unicode) : line)
        }
        let t = total
        out.append(pathLine(["total", "", "", String(subflowCount), "", TopText.rate(t.sentPerSecond),
                             TopText.rate(t.receivedPerSecond), "", String(t.carried.retransmissions)]))
        out.append("")
        out += connectionLines(options, used: out.count)
        return out.map { TopText.clipped($0, to: width) }
    }

    private func header(_ options: TopTextOptions) -> String {
        var parts = ["mptcpctl top"]
        if let clock = options.clock { parts.append(clock) }
        parts.append("interval " + TopText.fixed(elapsed, decimals: 2) + " s")
        parts.append("\(connections.count) connection\(connections.count == 1 ? "" : "s"), \(subflowCount) subflow\(subflowCount == 1 ? "" : "s")")
        parts.append(daemon ? "mptcpctld: health, policies" : "no mptcpctld: health -")
        if !options.interactive { parts.append("sort: " + options.sort.rawValue) }
        return parts.joined(separator: "  ")
    }

    private func connectionLines(_ options: TopTextOptions, used: Int) -> [String] {
        var limit = max(0, options.connections)
        if let height = options.height { limit = min(limit, max(0, height - used - 2)) }
        guard options.connections > 0 else { return [] }
        if connections.isEmpty { return ["(no MPTCP connections)"] }
        let shown = Array(options.sort.sorted(connections).prefix(limit))
        let localWidth = max(5, shown.map { $0.local.description.count }.max() ?? 0)
        let remoteWidth = max(6, shown.map { $0.remote.description.count }.max() ?? 0)
        func line(_ cells: [String]) -> String {
            TopText.row(cells, widths: [10, localWidth, remoteWidth, 3, 10, 10, 5], rightAligned: [3, 4, 5, 6])
        }
        var out = [line(["CONNECTION", "LOCAL", "REMOTE", "SF", "SENT/s", "RECV/s", "RETR", "POLICY"])]
        for c in shown {
            out.append(line([formatToken(c.token), c.local.description, c.remote.description, String(c.subflows),
                             TopText.rate(c.sentPerSecond), TopText.rate(c.receivedPerSecond),
                             String(c.carried.retransmissions), c.policy ?? "-"]))
        }
        if connections.count > shown.count {
            out.append("(\(connections.count - shown.count) more; --connections N shows more)")
        }
        return out
    }
}

/// The figures' text forms, shared by the frame's lines.
public enum TopText {
    /// Bytes per second in decimal units, three significant digits: `812 B/s`, `2.50 MB/s`, `12.3 kB/s`.
    public static func rate(_ bytesPerSecond: Double) -> String {
        var value = max(0, bytesPerSecond)
        guard value.isFinite else { return "- B/s" }
        if value < 999.5 { return "\(Int(value.rounded())) B/s" }
        var unit = 0
        let units = ["B", "kB", "MB", "GB", "TB"]
        while value >= 999.5 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        let decimals = value < 9.995 ? 2 : value < 99.95 ? 1 : 0
        return fixed(value, decimals: decimals) + " " + units[unit] + "/s"
    }

    /// `12.3 ms`; below a millisecond `0.04 ms` (a LAN RTT is not 0).
    public static func milliseconds(_ value: Double) -> String {
        fixed(value, decimals: value < 1 ? 2 : value < 100 ? 1 : 0) + " ms"
    }

    /// `value` with exactly `decimals` digits after the point (no Foundation formatter here).
    public static func fixed(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int64((abs(value) * scale).rounded())
        let whole = scaled / Int64(scale), fraction = scaled % Int64(scale)
        var text = (value < 0 && scaled != 0 ? "-" : "") + String(whole)
        if decimals > 0 {
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: decimals - digits.count) + digits
        }
        return text
    }

    /// The latest `width` values as a sparkline, each scaled to `scale` (the
    /// largest of every path, so paths compare); nothing carried is a blank.
    public static func sparkline(_ values: [Double], width: Int, scale: Double, unicode: Bool) -> String {
        let glyphs: [Character] = unicode ? [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"] : [" ", ".", ":", "-", "=", "+", "*", "#", "@"]
        let shown = values.suffix(max(0, width))
        return String(shown.map { value -> Character in
            guard scale > 0, value > 0 else { return glyphs[0] }
            let level = 1 + Int((value / scale * Double(glyphs.count - 2)).rounded(.down))
            return glyphs[min(glyphs.count - 1, max(1, level))]
        })
    }

    /// Cells padded to their column's width, two spaces apart; the last cell unpadded.
    static func row(_ cells: [String], widths: [Int], rightAligned: Set<Int>) -> String {
        var text = ""
        for (i, cell) in cells.enumerated() {
            if i == cells.count - 1 && i >= widths.count {
                text += cell
                break
            }
            let width = i < widths.count ? widths[i] : cell.count
            let pad = String(repeating: " ", count: max(0, width - cell.count))
            text += rightAligned.contains(i) ? pad + cell : cell + pad
            if i < cells.count - 1 { text += "  " }
        }
        while text.last == " " { text.removeLast() }
        return text
    }

    /// At most `width` characters (a terminal line must not wrap).
    static func clipped(_ line: String, to width: Int) -> String {
        line.count <= width ? line : String(line.prefix(max(0, width)))
    }
}
