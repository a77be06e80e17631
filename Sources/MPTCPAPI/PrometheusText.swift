/// The Prometheus text exposition format as the daemon serves it: the registry's
/// output made complete and deterministic. The registry (swift-prometheus) keeps
/// families and series in dictionaries, so their order changes between scrapes;
/// it writes no `# HELP` for metrics made through swift-metrics; and a series
/// exists only once something touched it.
public enum PrometheusText {
    /// `text` with every family of `families` present (its declared series at 0
    /// when the registry has none yet), every family with `# HELP` (the declared
    /// text, else the input's, else a note that it is undescribed) and `# TYPE`;
    /// families sorted by name, a family's samples by name and labels (a
    /// histogram's buckets keep their order), labels in the declared order
    /// (undeclared ones after, sorted; `le` last); samples that differ only in
    /// label order are added up. The same registry state always gives the same text.
    public static func normalised(_ text: String, families declared: [MetricFamily]) -> String {
        var families: [String: FamilyText] = [:]
        for d in declared {
            var f = FamilyText(name: d.name, type: d.type.rawValue, help: d.help, labels: d.labels)
            for values in d.series where values.count == d.labels.count {
                f.add(SampleLine(name: d.name, labels: Array(zip(d.labels, values.map(escape))), value: "0"), declared: true)
            }
            families[d.name] = f
        }
        var current: String?
        var helps: [String: String] = [:]
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(rawLine)
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let rest = line.dropFirst(7)
                guard let space = rest.firstIndex(of: " ") else { continue }
                let name = String(rest[..<space])
                let value = String(rest[rest.index(after: space)...])
                if line.hasPrefix("# HELP ") { helps[name] = value; continue }
                current = name
                if families[name] == nil { families[name] = FamilyText(name: name, type: value, help: nil, labels: []) }
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let sample = SampleLine(line) else { continue }
            let family = current.flatMap { c in sample.name == c || sample.name.hasPrefix(c + "_") ? c : nil } ?? sample.name
            if families[family] == nil { families[family] = FamilyText(name: family, type: "untyped", help: nil, labels: []) }
            families[family]?.add(sample, declared: false)
        }
        var out = ""
        for name in families.keys.sorted() {
            guard let f = families[name] else { continue }
            let help = f.help.map(escapeHelp) ?? helps[name] ?? "mptcpctld metric \(name) (undescribed)"
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(f.type)\n"
            for s in f.ordered() { out += s.rendered(order: f.labels) + "\n" }
        }
        return out
    }

    /// One family being assembled.
    private struct FamilyText {
        var name: String
        var type: String
        var help: String?
        var labels: [String]
        var samples: [String: (index: Int, sample: SampleLine, declaredOnly: Bool)] = [:]

        mutating func add(_ s: SampleLine, declared: Bool) {
            let key = s.name + "{" + s.key(order: labels) + "}"
            if let existing = samples[key] {
                // A declared zero is replaced; two registry series with the same
                // labels in another order are one series: added up.
                var merged = s
                if !existing.declaredOnly { merged.value = SampleLine.sum(existing.sample.value, s.value) }
                samples[key] = (existing.index, merged, declared && existing.declaredOnly)
            } else {
                samples[key] = (samples.count, s, declared)
            }
        }

        /// By sample name, then labels without `le`, then (buckets) as they came.
        func ordered() -> [SampleLine] {
            samples.values.sorted { a, b in
                let ka = (a.sample.name, a.sample.key(order: labels, without: "le"))
                let kb = (b.sample.name, b.sample.key(order: labels, without: "le"))
                return ka != kb ? ka < kb : a.index < b.index
            }.map(\.sample)
        }
    }

    /// One sample line: `name{label="value",...} value [timestamp]`; label values
    /// are kept escaped as they were written.
    private struct SampleLine {
        var name: String
        var labels: [(String, String)]
        var value: String

        init(name: String, labels: [(String, String)], value: String) {
            self.name = name
            self.labels = labels
            self.value = value
        }

        /// A sample line as the registry wrote it, label values kept escaped and
        /// in the written order; nil when it is not a sample line.
        init?(_ line: String) {
            guard let tokens = try? PrometheusText.sampleTokens(line[...]) else { return nil }
            self.init(name: String(tokens.name), labels: tokens.labels.map { (String($0.key), String($0.escapedValue)) },
                      value: String(tokens.value))
        }

        /// The labels in `order` (declared first, the others sorted, `le` last).
        func sortedLabels(order: [String]) -> [(String, String)] {
            func rank(_ key: String) -> (Int, Int, String) {
                if let i = order.firstIndex(of: key) { return (0, i, "") }
                return key == "le" ? (2, 0, "") : (1, 0, key)
            }
            return labels.sorted { rank($0.0) < rank($1.0) }
        }

        func key(order: [String], without excluded: String? = nil) -> String {
            sortedLabels(order: order).filter { $0.0 != excluded }.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",")
        }

        func rendered(order: [String]) -> String {
            let labels = key(order: order)
            return name + (labels.isEmpty ? "" : "{\(labels)}") + " " + value
        }

        /// Two sample values added, written as the registry writes numbers.
        static func sum(_ a: String, _ b: String) -> String {
            if let x = Int64(a), let y = Int64(b) { return String(x &+ y) }
            guard let x = Double(a), let y = Double(b) else { return b }
            let total = x + y
            return total == total.rounded() && abs(total) < 1e15 ? String(Int64(total)) : "\(total)"
        }
    }

    /// A label value escaped as the format requires (backslash, quote, newline).
    static func escape(_ value: String) -> String { escape(value, quote: true) }

    /// A `# HELP` text escaped as the format requires (backslash, newline).
    private static func escapeHelp(_ text: String) -> String { escape(text, quote: false) }

    /// Backslash and newline escaped, and `"` when `quote` (label values have it, `# HELP` texts not).
    private static func escape(_ text: String, quote: Bool) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"" where quote: out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
