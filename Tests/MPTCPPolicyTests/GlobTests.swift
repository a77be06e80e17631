import MPTCPPolicy
import PropertyBased
import Testing

@Suite struct GlobTests {
    @Test(arguments: [
        ("eth*", "eth0", true), ("eth*", "eth", true), ("eth*", "veth0", false),
        ("wl?0", "wlp0", true), ("wl?0", "wl0", false), ("[ab]x", "bx", true), ("[ab]x", "cx", false),
        ("wan[0-3]", "wan2", true), ("wan[0-3]", "wan4", false), ("[!x]y", "ay", true), ("[!x]y", "xy", false),
        ("*", "anything", true), ("lo", "lo", true), ("lo", "lo0", false), ("*0", "eth10", true), ("e*h*0", "eth0", true),
    ])
    func matchesTheWholeName(_ pattern: String, _ name: String, _ expected: Bool) throws {
        #expect(try Glob(pattern).matches(name) == expected)
    }

    @Test(arguments: [
        ("", "empty"), ("abcdefghijklmnop", "longer than 15"), ("eth/0", "'/'"), ("eth:0", "':'"), ("eth 0", "whitespace"),
        ("eth[0", "not closed"), ("eth]", "without '['"), ("eth\\*", "not allowed"), ("wan[3-0]", "reversed"),
    ])
    func badPatternsAreRefusedWithAReason(_ pattern: String, _ reason: String) {
        let error = #expect(throws: GlobError.self) { try Glob(pattern) }
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
    }

    @Test func aPatternWithoutSpecialCharactersMatchesExactlyItself() async {
        let letters = Gen.letterOrNumber.string(of: 1...15)
        await propertyCheck(count: 500, input: letters, letters) { a, b in
            let glob = try #require(try? Glob(a))
            #expect(glob.matches(a))
            #expect(glob.matches(b) == (a == b))
        }
    }
}
