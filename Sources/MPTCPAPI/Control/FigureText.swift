/// How `mptcpctl connections` words the figures in its table: short, of a
/// fixed shape, `-` for a figure the kernel did not report (the exact numbers
/// are in `-v` and `--json`).
public enum FigureText {
    /// Bytes in binary units with one decimal: `512B`, `1.5KiB`, `12.0MiB`, `3.2GiB`.
    public static func bytes(_ value: UInt64?) -> String {
        guard let value else { return "-" }
        if value < 1024 { return "\(value)B" }
        var unit = 0
        var scaled = value
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
        // Stop one step early, so that tenths of the unit remain.
        while unit < units.count - 1, scaled >= 1024 * 1024 {
            scaled /= 1024
            unit += 1
        }
        let tenths = (scaled * 10 + 512) / 1024
        return "\(tenths / 10).\(tenths % 10)\(units[unit])"
    }

    /// An RTT given in µs, as milliseconds with one decimal: `0.3ms`, `41.0ms`.
    public static func rtt(microseconds: UInt64?) -> String {
        guard let microseconds else { return "-" }
        let tenths = (microseconds + 50) / 100
        return "\(tenths / 10).\(tenths % 10)ms"
    }

    /// Retransmissions as `ss` shows them: current (not yet acknowledged) over total.
    public static func retransmits(current: UInt64?, total: UInt64?) -> String {
        guard current != nil || total != nil else { return "-" }
        return "\(current.map(String.init) ?? "-")/\(total.map(String.init) ?? "-")"
    }
}
