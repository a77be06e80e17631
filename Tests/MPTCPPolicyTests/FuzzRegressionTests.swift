import Foundation
import MPTCPPolicy
import Testing

/// Inputs that crashed a fuzz target once (Tests/Fuzz/Regressions/FuzzPolicy):
/// each is refused with a diagnostic now.
@Suite struct FuzzRegressionTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Regressions/FuzzPolicy")

    @Test func everyPolicyThatCrashedIsRefusedCleanly() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { !$0.hasPrefix(".") }
        #expect(!names.isEmpty)
        for name in names {
            let text = String(decoding: try Data(contentsOf: Self.directory.appendingPathComponent(name)), as: UTF8.self)
            #expect(throws: PolicyError.self, "\(name)") { try PolicyLoader.load(text, file: name) }
        }
    }

    @Test func controlCharactersAreRefusedWithTheirPlace() {
        for (text, expected) in [("[daemon]\nlog_level = \"info\u{0}\"", "p.toml:2: TOML syntax: control character U+0000 is not allowed (column 18)"),
                                 ("# comment \u{7F}\n", "p.toml:1: TOML syntax: control character U+007F is not allowed (column 11)"),
                                 ("[\u{1}x]", "p.toml:1: TOML syntax: a table name starting with U+0001 is not allowed (column 2)"),
                                 ("x = 1\u{1}", "p.toml:1: TOML syntax: control character U+0001 is not allowed (column 6)"),
                                 ("[[\u{FFFD}nterface]]",
                                  "p.toml:1: TOML syntax: a table name starting with U+FFFD is not allowed (column 3)"),
                                 ("[[interface]]\nnäme = \"x\"",
                                  "p.toml:2: TOML syntax: non-ASCII character U+00E4 is not allowed outside a string or comment (column 2)"),
                                 ("[ #x]", "p.toml:1: TOML syntax: a table name starting with U+0023 is not allowed (column 3)"),
                                 ("\n  [[.a]]", "p.toml:2: TOML syntax: a table name starting with U+002E is not allowed (column 5)"),
                                 ("[daemon]\n[", "p.toml:2: TOML syntax: a table header without a name is not allowed (column 2)"),
                                 ("[[ \n", "p.toml:1: TOML syntax: a table header without a name is not allowed (column 4)"),
                                 ("x = [\"a\", }]", "p.toml:1: TOML syntax: '}' cannot follow ',' (column 11)"),
                                 ("x = [ # c\n\t}]", "p.toml:2: TOML syntax: '}' cannot follow '[' (column 2)"),
                                 ("x = {a = [1], }", "p.toml:1: TOML syntax: '}' cannot follow ',' (column 15)"),
                                 ("a=1979-05-27 1\n",
                                  "p.toml:1: TOML syntax: a value followed by a space and a digit must be a date and a time (column 3)"),
                                 ("a=[1aaa-aa-aa 1]",
                                  "p.toml:1: TOML syntax: a value followed by a space and a digit must be a date and a time (column 4)"),
                                 ("a={b=1979-05-27Tz:}", "p.toml:1: TOML syntax: a date and 'T' must be followed by the hour (column 6)"),
                                 (#"x=[""""""",}"#, "p.toml:1: TOML syntax: '}' cannot follow ',' (column 12)"),
                                 ("x=[\"\"\"a\"\"\"\",\u{2028}]",
                                  "p.toml:1: TOML syntax: non-ASCII character U+2028 is not allowed outside a string or comment (column 13)"),
                                 (#"x = ['''a'''', "''''"]"# + "\n[#x]\n",
                                  "p.toml:2: TOML syntax: a table name starting with U+0023 is not allowed (column 2)")] {
            do {
                _ = try PolicyLoader.load(text, file: "p.toml")
                Issue.record("accepted: \(text)")
            } catch {
                #expect(error.diagnostics.map { $0.formatted(file: "p.toml") } == [expected])
            }
        }
        #expect(throws: Never.self) {
            try PolicyLoader.load("[daemon]\r\nlog_level = \"info\"\t# tab and CRLF are fine, and ünïcode\r\n", file: "p.toml")
        }
        // In strings of every kind anything but control characters is fine (escapes are skipped).
        // Valid TOML these rules must not refuse (toml++ parses each): a nested array at
        // the start of a line, dates and times in every form, keys shaped like dates,
        // multi-line strings closed by 4 and 5 quotes.
        for valid in ["x = [\n  [ {a = 1} ]\n]\n",
                      "d = 1979-05-27 07:32:00Z\ne = [1979-05-27T07:32:00, 1979-05-27]\nf = {g = 1979-05-27t00:00:00.5-07:00}\n",
                      "t = 07:32:00\n2024-01-01T = 1\n1979-05-27 = 2\n",
                      #"s = """a""""  "# + "\n" + #"u = """b"""""  "# + "\n" + #"v = '''c''''"# + "\n",
                      #"w = ["""x"""", 1]"# + "\n[t]\n[[u]]\n"] {
            // Unknown keys are refused, but not as TOML syntax.
            do { _ = try PolicyLoader.load(valid, file: "p.toml") } catch {
                #expect(!error.diagnostics.contains { $0.message.hasPrefix("TOML syntax") }, "\(valid): \(error.diagnostics)")
            }
        }
        // A '}' after '[' or ',' inside a string or a comment is fine.
        #expect(throws: Never.self) { try PolicyLoader.load("[[interface]]\nname = [\"a}\", ',}'] # [}\nrole = \"off\"\n", file: "p.toml") }
        let text = "[[connection]]\nname = \"wi-fi \\\" ☕\"\n[[interface]]\nname = ['wlän*', \"\"\"eth\\u00e9★\"\"\", '''x✓''']\nrole = \"active\"\n"
        let policy = try? PolicyLoader.load(text, file: "p.toml")
        #expect(policy?.connections.first?.name == "wi-fi \" ☕")
        #expect(policy?.interfaces.first?.names.count == 3)
    }
}
