/// How a value is written in a `key=value` line: the daemon's log and the human
/// form of `mptcpctl monitor` use this one function, so a value reads the same in
/// both and a line can be split back into its pairs.
public enum LogValue {
    /// `value` as it is, or double-quoted when it is empty or holds a space, a
    /// quote, `=` or a control character; inside quotes, `"` and `\` are
    /// backslash-escaped and control characters written as `\n`, `\r`, `\t` or
    /// `\xNN`, so nothing a hook prints, a reason quotes or an interface is named
    /// can end a line early, split a pair or reach a terminal as an escape sequence.
    public static func quoted(_ value: String) -> String {
        func isControl(_ s: Unicode.Scalar) -> Bool { s.value < 0x20 || s.value == 0x7F }
        guard value.isEmpty || value.unicodeScalars.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || isControl($0) })
        else { return value }
        var out = "\""
        for s in value.unicodeScalars {
            switch s {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where isControl(s):
                let hex = String(s.value, radix: 16)
                out += "\\x" + (hex.count < 2 ? "0" : "") + hex
            default: out.unicodeScalars.append(s)
            }
        }
        return out + "\""
    }
}
