/// The line each key path is written on, found by a light scan of the text
/// (TOMLKit does not expose source positions of values).
struct KeyLines {
    private var lines: [String: Int] = [:]

    init(_ text: String) {
        var table = ""
        var counts: [String: Int] = [:]
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = Self.stripComment(raw).trimmingSpaces
            let number = n + 1
            if line.hasPrefix("[[") {
                let name = Self.bare(line.dropFirst(2).prefix { $0 != "]" })
                counts[name, default: 0] += 1
                table = "\(name)[\(counts[name, default: 1])]"
                record(table, number)
            } else if line.hasPrefix("[") {
                table = Self.bare(line.dropFirst().prefix { $0 != "]" })
                // `[connection.match]` under `[[connection]]` belongs to the latest element.
                if let dot = table.firstIndex(of: "."), let n = counts[String(table[..<dot])] {
                    table = "\(table[..<dot])[\(n)]\(table[dot...])"
                }
                record(table, number)
            } else if let eq = line.firstIndex(of: "=") {
                let key = Self.bare(line[..<eq])
                let path = table.isEmpty ? key : table + "." + key
                record(path, number)
                let value = line[line.index(after: eq)...].trimmingSpaces
                if value.hasPrefix("{") {
                    // Inline table: `limits = { subflows = 8, add_addr_accepted = 8 }`.
                    for part in value.dropFirst().split(separator: ",") {
                        if let e = part.firstIndex(of: "=") { record(path + "." + Self.bare(part[..<e]), number) }
                    }
                }
            }
        }
    }

    private mutating func record(_ path: String, _ line: Int) {
        if lines[path] == nil { lines[path] = line }
    }

    /// The line of `path`, else of its nearest enclosing key (`a.b[2].c` falls
    /// back to `a.b[2]`, then `a.b`, then `a`).
    subscript(path: String) -> Int? {
        var p = Substring(path)
        while !p.isEmpty {
            if let line = lines[String(p)] { return line }
            if p.last == "]", let open = p.lastIndex(of: "["), open > p.startIndex {
                p = p[..<open]
            } else if let dot = p.lastIndex(of: ".") {
                p = p[..<dot]
            } else {
                break
            }
        }
        return nil
    }

    private static func bare(_ s: Substring) -> String {
        var t = s.trimmingSpaces
        if t.count >= 2, let f = t.first, f == "\"" || f == "'", t.last == f { t = t.dropFirst().dropLast() }
        return String(t)
    }

    private static func stripComment(_ s: Substring) -> Substring {
        var quote: Character?
        for i in s.indices {
            let c = s[i]
            if let q = quote { if c == q { quote = nil } } else if c == "\"" || c == "'" { quote = c } else if c == "#" {
                return s[..<i]
            }
        }
        return s
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return s
    }
}
