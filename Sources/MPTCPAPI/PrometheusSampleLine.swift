/// The one reader of a sample line of the text exposition format,
/// `name{label="value",…} value [timestamp]`: `parse` and `normalised` both
/// tokenize lines here, so the syntax is read in one place.
extension PrometheusText {
    /// A sample line split into its parts, label values still escaped as written
    /// and labels in the order written (`normalised` writes them back as they were;
    /// `parse` unescapes them).
    struct SampleTokens {
        var name: Substring
        var labels: [(key: Substring, escapedValue: Substring)]
        /// The value as written (a number, `+Inf`, `-Inf` or `NaN`).
        var value: Substring
    }

    /// Why a line is not a sample line.
    struct SampleSyntaxError: Error {
        var reason: String
    }

    /// `line` split into name, labels and value; spaces and commas between
    /// labels are skipped, a label name is trimmed of spaces.
    static func sampleTokens(_ line: Substring) throws(SampleSyntaxError) -> SampleTokens {
        var rest = line[...]
        let name = rest.prefix { $0 != "{" && $0 != " " && $0 != "\t" }
        guard !name.isEmpty else { throw SampleSyntaxError(reason: "no metric name") }
        rest = rest.dropFirst(name.count)
        var labels: [(key: Substring, escapedValue: Substring)] = []
        if rest.first == "{" {
            rest = rest.dropFirst()
            while true {
                rest = rest.drop { $0 == " " || $0 == "," }
                if rest.first == "}" { rest = rest.dropFirst(); break }
                let key = rest.prefix { $0 != "=" }
                rest = rest.dropFirst(key.count)
                guard !key.isEmpty, rest.first == "=", rest.dropFirst().first == "\"" else {
                    throw SampleSyntaxError(reason: "a label is not name=\"value\"")
                }
                rest = rest.dropFirst(2)
                let start = rest.startIndex
                var escaped = false
                var end: Substring.Index?
                while let c = rest.first {
                    if escaped {
                        escaped = false
                    } else if c == "\\" {
                        escaped = true
                    } else if c == "\"" {
                        end = rest.startIndex
                        rest = rest.dropFirst()
                        break
                    }
                    rest = rest.dropFirst()
                }
                guard let end else { throw SampleSyntaxError(reason: "a label value is not closed") }
                labels.append((key.trimmingSpaces, line[start..<end]))
            }
        }
        let fields = rest.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let value = fields.first else { throw SampleSyntaxError(reason: "no sample value") }
        return SampleTokens(name: name, labels: labels, value: value)
    }

    /// A label value or `# HELP` text with its escapes (`\\`, `\"`, `\n`) resolved.
    static func unescape<S: StringProtocol>(_ text: S) -> String {
        var out = ""
        var escaped = false
        for c in text {
            if escaped {
                out.append(c == "n" ? "\n" : c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        return out
    }
}

private extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
