import Foundation
import MPTCPPolicy
import PropertyBased
import Testing

/// `Glob`: shell-style interface-name patterns, matched against the whole name.
@Suite struct GlobBehaviourTests {
    private func matches(_ pattern: String, _ name: String) throws -> Bool { try Glob(pattern).matches(name) }

    // MARK: Matching

    @Test func starMatchesAnyRunIncludingNone() throws {
        #expect(try matches("eth*", "eth0"))
        #expect(try matches("eth*", "eth"), "* matches the empty run")
        #expect(try matches("eth*", "eth10.100"))
        #expect(try !matches("eth*", "veth0"), "anchored at the start")
        #expect(try !matches("eth*", "Eth0"), "case-sensitive")
        #expect(try matches("*0", "eth0") && !matches("*0", "eth01"), "anchored at the end")
        #expect(try matches("e*h*0", "eth0") && matches("e**0", "eth0"))
    }

    @Test func starAloneMatchesEveryName() throws {
        for name in ["", "lo", "eth0", "wlp2s0", "a-very-long-nam"] {
            #expect(try matches("*", name), "\(name)")
        }
    }

    @Test func questionMarkMatchesExactlyOneCharacter() throws {
        #expect(try matches("wl?0", "wlp0"))
        #expect(try matches("wl?0", "wlx0"))
        #expect(try !matches("wl?0", "wl0"), "not zero characters")
        #expect(try !matches("wl?0", "wlpp0"), "not two characters")
        #expect(try matches("???", "abc") && !matches("???", "ab") && !matches("???", "abcd"))
    }

    @Test func bracketSetMatchesOneListedCharacter() throws {
        #expect(try matches("[ab]x", "ax"))
        #expect(try matches("[ab]x", "bx"))
        #expect(try !matches("[ab]x", "cx"))
        #expect(try !matches("[ab]x", "abx"), "a set is one character")
        #expect(try !matches("[ab]x", "x"))
    }

    @Test func bracketRangeMatchesInclusively() throws {
        #expect(try matches("[a-c]", "a"))
        #expect(try matches("[a-c]", "b"))
        #expect(try matches("[a-c]", "c"))
        #expect(try !matches("[a-c]", "d"))
        #expect(try !matches("[a-c]", "A"))
        #expect(try matches("wan[0-3]", "wan3") && !matches("wan[0-3]", "wan4"))
        #expect(try matches("[a-ce]", "e") && !matches("[a-ce]", "d"), "a range followed by a single character")
        #expect(try matches("[a-a]", "a"), "a one-character range is not reversed")
    }

    @Test func negatedSetMatchesAnyOtherCharacter() throws {
        #expect(try matches("[!x]y", "ay"))
        #expect(try matches("[!x]y", "zy"))
        #expect(try !matches("[!x]y", "xy"))
        #expect(try !matches("[!x]y", "y"), "a negated set still consumes one character")
        #expect(try matches("[^x]y", "ay") && !matches("[^x]y", "xy"), "^ negates like !")
        #expect(try matches("eth[!0-3]", "eth7") && !matches("eth[!0-3]", "eth2"))
    }

    @Test func closingBracketOrDashCanBeSetMembers() throws {
        // `]` right after `[` (or `[!`) is a member; `-` before `]` is a member.
        #expect(try matches("[]]", "]"))
        #expect(try matches("[!]]", "a") && !matches("[!]]", "]"))
        #expect(try matches("[a-]", "-") && matches("[a-]", "a") && !matches("[a-]", "b"))
    }

    @Test func literalPatternMatchesOnlyItself() throws {
        #expect(try matches("lo", "lo"))
        #expect(try !matches("lo", "lo0"))
        #expect(try !matches("lo", "l"))
        #expect(try !matches("lo", ""))
        #expect(try matches("br-lan.10", "br-lan.10"), "'-' and '.' are ordinary outside brackets")
    }

    @Test func patternAndDescriptionKeepTheSourceText() throws {
        let glob = try Glob("wwan[0-9]*")
        #expect(glob.pattern == "wwan[0-9]*")
        #expect(glob.description == "wwan[0-9]*")
        #expect(try Glob("eth*") == Glob("eth*"))
    }

    @Test func decodesFromAStringAndRefusesABadOne() throws {
        let decoded = try JSONDecoder().decode([Glob].self, from: Data(#"["eth*","wl?0"]"#.utf8))
        #expect(decoded.map(\.pattern) == ["eth*", "wl?0"])
        #expect(decoded[1].matches("wlp0"))
        #expect(String(decoding: try JSONEncoder().encode(decoded), as: UTF8.self) == #"["eth*","wl?0"]"#)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Glob].self, from: Data(#"["eth[0"]"#.utf8)) }
    }

    // MARK: Rejections

    private func refusal(_ pattern: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        do {
            _ = try Glob(pattern)
            Issue.record("\"\(pattern)\" was accepted", sourceLocation: sourceLocation)
            return ""
        } catch {
            #expect(error.description == error.message, sourceLocation: sourceLocation)
            return error.message
        }
    }

    @Test func emptyPatternIsRefused() {
        #expect(refusal("") == "an empty pattern matches no interface")
    }

    @Test func patternLongerThanFifteenCharactersIsRefused() throws {
        let message = refusal("abcdefghijklmnop")
        #expect(message.contains("\"abcdefghijklmnop\""))
        #expect(message.contains("longer than 15 characters"))
        #expect(try Glob("abcdefghijklmno").matches("abcdefghijklmno"), "exactly IFNAMSIZ - 1 = 15 is fine")
        #expect(Glob.maximumLength == 15)
    }

    @Test func slashIsRefused() {
        let message = refusal("eth/0")
        #expect(message.contains("\"eth/0\"") && message.contains("'/'") && message.contains("interface names cannot"))
    }

    @Test func colonIsRefused() {
        let message = refusal("eth0:1")
        #expect(message.contains("\"eth0:1\"") && message.contains("':'"))
    }

    @Test(arguments: ["eth 0", "eth\t0", " eth0", "eth0\n"])
    func whitespaceIsRefused(_ pattern: String) {
        #expect(refusal(pattern).contains("contains whitespace"))
    }

    @Test(arguments: ["eth[0", "[", "[!", "[]", "eth[a-"])
    func unclosedBracketIsRefused(_ pattern: String) {
        #expect(refusal(pattern).contains("'[' is not closed by ']'"))
    }

    @Test(arguments: ["eth]", "]", "a]b"])
    func strayClosingBracketIsRefused(_ pattern: String) {
        #expect(refusal(pattern).contains("']' without '['"))
    }

    @Test(arguments: ["eth\\*", "\\", "a\\b"])
    func backslashIsRefused(_ pattern: String) {
        let message = refusal(pattern)
        #expect(message.contains("'\\' is not allowed"))
        #expect(message.contains("nothing") || message.contains("no special characters"))
    }

    @Test func reversedRangeIsRefused() {
        let message = refusal("wan[3-0]")
        #expect(message.contains("\"wan[3-0]\"") && message.contains("range 3-0 is reversed"))
    }

    // MARK: Properties

    /// Characters an interface name may hold that are not special in a pattern.
    private static let plain = Gen<Character?>
        .element(of: Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@+=%") as [Character])
        .map { $0! }

    @Test func patternWithoutSpecialCharactersMatchesExactlyItself() async {
        let name = Self.plain.string(of: 1...15)
        await propertyCheck(count: 500, input: name, name, Self.plain) { pattern, other, extra in
            let glob = try #require(try? Glob(pattern))
            #expect(glob.matches(pattern))
            #expect(glob.matches(other) == (pattern == other))
            #expect(!glob.matches(pattern + String(extra)), "longer names do not match")
            #expect(!glob.matches(String(pattern.dropLast())), "shorter names do not match")
            #expect(!glob.matches(String(extra) + pattern))
        }
    }

    @Test func prefixStarMatchesEveryExtensionOfThePrefix() async {
        let text = Self.plain.string(of: 0...7)
        await propertyCheck(count: 300, input: text, text) { prefix, rest in
            let glob = try #require(try? Glob(prefix + "*"))
            #expect(glob.matches(prefix + rest))
            let other = String(prefix.dropFirst()) + rest
            #expect(glob.matches(other) == other.hasPrefix(prefix), "only names starting with the prefix")
        }
    }
}
