import Foundation
import Testing

/// The rules of the source tree that keep the layers readable (README,
/// Layout): sizes, imports between layers, where kernel errors are classified.
/// They read the sources next to this file, so they guard every `make test`.
@Suite struct SourceRulesTests {
    /// One Swift file of `Sources/`: its module (the first folder) and lines.
    struct SourceFile: CustomStringConvertible {
        var path: String
        var module: String
        var lines: [String]
        var description: String { path }

        /// The lines with string literals emptied and `//` comments cut, so
        /// braces and words inside them do not count.
        var code: [String] {
            var inMultiline = false
            return lines.map { line in
                if line.components(separatedBy: "\"\"\"").count % 2 == 0 { inMultiline.toggle(); return "" }
                if inMultiline { return "" }
                var out = ""
                var inString = false
                var escaped = false
                var previous: Character = " "
                for ch in line {
                    if inString {
                        if escaped { escaped = false } else if ch == "\\" { escaped = true } else if ch == "\"" { inString = false; out.append("\"") }
                        continue
                    }
                    if ch == "/" && previous == "/" { out.removeLast(); break }
                    if ch == "\"" { inString = true }
                    out.append(ch)
                    previous = ch
                }
                return out
            }
        }

        /// The modules imported, leaving out the `#else` branch of
        /// `#if canImport(FoundationEssentials)` (never compiled here).
        var imports: Set<String> {
            var modules: Set<String> = []
            var skipping = false
            var essentialsCondition = false
            for line in lines {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("#if") { essentialsCondition = trimmed.contains("canImport(FoundationEssentials)"); continue }
                if trimmed.hasPrefix("#else") { skipping = essentialsCondition; continue }
                if trimmed.hasPrefix("#endif") { skipping = false; essentialsCondition = false; continue }
                if skipping { continue }
                let words = trimmed.split(separator: " ")
                guard let i = words.firstIndex(of: "import"), i + 1 < words.count,
                      words[..<i].allSatisfy({ ["@testable", "internal", "public", "private", "@_exported"].contains($0) })
                else { continue }
                modules.insert(String(words[i + 1]))
            }
            return modules
        }
    }

    static let sources: [SourceFile] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources")
        guard let walk = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
        var files: [SourceFile] = []
        for case let url as URL in walk where url.pathExtension == "swift" {
            guard let text = try? String(contentsOf: url, encoding: .utf8) else { continue }
            let relative = String(url.path.dropFirst(root.path.count + 1))
            let module = String(relative.split(separator: "/").first ?? "")
            var lines = text.components(separatedBy: "\n")
            if lines.last == "" { lines.removeLast() }
            files.append(SourceFile(path: "Sources/" + relative, module: module, lines: lines))
        }
        return files.sorted { $0.path < $1.path }
    }()

    @Test func theSourcesAreFound() {
        #expect(Self.sources.count > 50)
        #expect(Set(Self.sources.map(\.module)).isSuperset(of: ["MPTCPKit", "MPTCPPolicy", "MPTCPAPI", "MPTCPDaemon", "mptcpctl", "mptcpctld"]))
    }

    @Test func noSourceFileIsOver450Lines() {
        let long = Self.sources.filter { $0.lines.count > 450 }.map { "\($0.path): \($0.lines.count) lines" }
        #expect(long.isEmpty, "\(long)")
    }

    /// A function, initialiser or computed property: from its declaration to
    /// its closing brace.
    @Test func noFunctionIsOver80Lines() {
        let declaration = #/^\s*(@\w+(\([^)]*\))?\s+)*((public|private|fileprivate|internal|static|final|override|mutating|nonisolated|class|convenience|required)\s+)*(func\s|init[?!]?\s*[(<]|deinit\b)/#
        var long: [String] = []
        for file in Self.sources {
            let code = file.code
            for (i, line) in code.enumerated() where line.contains(declaration) {
                var depth = 0
                var opened = false
                var end = i
                for j in i..<code.count {
                    for ch in code[j] {
                        if ch == "{" { depth += 1; opened = true } else if ch == "}" { depth -= 1 }
                    }
                    end = j
                    if opened && depth <= 0 { break }
                    // A protocol requirement: no body.
                    if !opened && j > i + 8 { break }
                }
                if opened && end - i + 1 > 80 {
                    long.append("\(file.path):\(i + 1): \(end - i + 1) lines")
                }
            }
        }
        #expect(long.isEmpty, "\(long)")
    }

    /// Each layer knows only the ones below it.
    @Test func eachLayerImportsOnlyTheLayersBelow() {
        let forbidden: [String: Set<String>] = [
            "CNetlink": ["MPTCPKit", "MPTCPPolicy", "MPTCPAPI", "MPTCPDaemon"],
            "MPTCPKit": ["MPTCPPolicy", "MPTCPAPI", "MPTCPDaemon", "Foundation"],
            "MPTCPPolicy": ["MPTCPAPI", "MPTCPDaemon", "Foundation", "FoundationEssentials"],
            "MPTCPAPI": ["MPTCPPolicy", "MPTCPDaemon", "Foundation"],
            "MPTCPDaemon": ["Foundation"],
            "mptcpctl": ["MPTCPPolicy", "MPTCPDaemon", "TOMLKit", "Foundation"],
            "mptcpctld": ["Foundation"],
        ]
        var wrong: [String] = []
        for file in Self.sources {
            for module in file.imports.intersection(forbidden[file.module] ?? []) {
                wrong.append("\(file.path) imports \(module)")
            }
        }
        #expect(wrong.isEmpty, "\(wrong)")
    }

    /// What a kernel refusal means is decided in MPTCPKit's error type
    /// (`MPTCPError.isUnknownToken` and its siblings), never by matching the
    /// kernel's text elsewhere.
    @Test func kernelErrorsAreClassifiedOnlyInMPTCPKit() {
        let matching = #/kernelMessage\s*(==|!=|\?*\.(contains|hasPrefix|hasSuffix|starts|range))/#
        let wrong = Self.sources.filter { $0.module != "MPTCPKit" }.flatMap { file in
            file.lines.enumerated().filter { $0.element.contains(matching) }.map { "\(file.path):\($0.offset + 1)" }
        }
        #expect(wrong.isEmpty, "\(wrong)")
    }

    /// We build on glibc only; a `Musl` branch nobody compiles would rot.
    @Test func noUncompiledMuslBranches() {
        let wrong = Self.sources.filter { file in file.lines.contains { $0.contains("canImport(Musl)") } }.map(\.path)
        #expect(wrong.isEmpty, "\(wrong)")
    }
}
