/// The daemon's `metrics` answer (Prometheus text exposition format 0.0.4) as
/// structured data, so `mptcpctl metrics --json` gives families and samples, not text.
extension PrometheusText {
    /// A metric family: `# HELP` / `# TYPE` and the samples that belong to it.
    public struct Family: Hashable, Sendable {
        public var name: String
        /// counter, gauge, histogram, summary or untyped (no `# TYPE` line).
        public var type: String
        public var help: String?
        public var samples: [Sample]

        public init(name: String, type: String, help: String?, samples: [Sample]) {
            self.name = name
            self.type = type
            self.help = help
            self.samples = samples
        }
    }

    /// One sample line: `name{label="value",…} value`.
    public struct Sample: Hashable, Sendable {
        /// The sample's own name: a histogram family `x` has `x_bucket`, `x_sum`, `x_count`.
        public var name: String
        public var labels: [String: String]
        public var value: Double

        public init(name: String, labels: [String: String], value: Double) {
            self.name = name
            self.labels = labels
            self.value = value
        }
    }

    /// A line that is not valid exposition text.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// Parses the text into families in the order they first appear. Samples are
    /// grouped under the family whose `# TYPE`/`# HELP` names them (or their
    /// `_bucket`, `_sum`, `_count`, `_total`, `_created` stem); a sample nothing declared is its own
    /// untyped family.
    public static func parse(_ text: String) throws(ParseError) -> [Family] {
        var families: [Family] = []
        var index: [String: Int] = [:]
        func family(_ name: String) -> Int {
            if let i = index[name] { return i }
            families.append(Family(name: name, type: "untyped", help: nil, samples: []))
            index[name] = families.count - 1
            return families.count - 1
        }
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.drop { $0 == " " || $0 == "\t" }
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let words = line.dropFirst().split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
                guard words.count >= 2, words[0] == "HELP" || words[0] == "TYPE" else { continue }  // a comment
                let i = family(String(words[1]))
                let rest = words.count > 2 ? String(words[2]) : ""
                if words[0] == "HELP" {
                    families[i].help = unescape(rest)
                } else {
                    families[i].type = rest
                }
                continue
            }
            let sample = try parseSample(line, number: number + 1)
            let owner = [sample.name] + ["_bucket", "_sum", "_count", "_total", "_created"]
                .filter { sample.name.hasSuffix($0) }.map { String(sample.name.dropLast($0.count)) }
            let i = owner.lazy.compactMap { index[$0] }.first ?? family(sample.name)
            families[i].samples.append(sample)
        }
        return families
    }

    private static func parseSample(_ line: Substring, number: Int) throws(ParseError) -> Sample {
        let tokens: SampleTokens
        do { tokens = try sampleTokens(line) } catch { throw ParseError(line: number, reason: error.reason) }
        guard let value = Self.number(tokens.value) else { throw ParseError(line: number, reason: "no sample value") }
        var labels: [String: String] = [:]
        for label in tokens.labels { labels[String(label.key)] = unescape(label.escapedValue) }
        return Sample(name: String(tokens.name), labels: labels, value: value)
    }

    private static func number(_ text: Substring) -> Double? {
        switch text {
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default: return Double(text)
        }
    }

    /// The families as `mptcpctl metrics --json` prints them: an array of
    /// `{name, type, help, samples: [{name, labels, value}]}`; a value that JSON
    /// cannot carry (NaN, ±Inf) is the string Prometheus writes for it.
    public static func json(_ families: [Family]) -> JSONValue {
        .array(families.map { f in
            var object: [String: JSONValue] = [
                "name": .string(f.name), "type": .string(f.type),
                "samples": .array(f.samples.map { s in
                    let value: JSONValue = s.value.isNaN ? "NaN" : s.value.isInfinite ? .string(s.value < 0 ? "-Inf" : "+Inf")
                        : s.value == s.value.rounded() && abs(s.value) < 9e15 ? .integer(Int64(s.value)) : .number(s.value)
                    return ["name": .string(s.name), "labels": .object(s.labels.mapValues { .string($0) }), "value": value]
                }),
            ]
            object["help"] = f.help.map { .string($0) } ?? .null
            return .object(object)
        })
    }
}
