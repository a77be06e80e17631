/// A shell-style pattern for interface names: `*`, `?`, `[abc]`, `[a-z]`,
/// `[!x]`, matched against the whole name. Validated on creation.
public struct Glob: Hashable, Sendable, Codable, CustomStringConvertible {
    public let pattern: String
    private let tokens: [Token]

    private enum Token: Hashable, Sendable {
        case literal(Character)
        case any
        case anyRun
        case set(negated: Bool, ranges: [ClosedRange<Character>])
    }

    /// Longest interface name Linux allows (`IFNAMSIZ - 1`).
    public static let maximumLength = 15

    /// Parses `pattern`; the error says what is wrong with it.
    public init(_ pattern: String) throws(GlobError) {
        guard !pattern.isEmpty else { throw GlobError("an empty pattern matches no interface") }
        guard pattern.count <= Self.maximumLength else {
            throw GlobError("\"\(pattern)\" is longer than \(Self.maximumLength) characters, the longest interface name")
        }
        if let bad = pattern.first(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) {
            throw GlobError("\"\(pattern)\" contains \(bad == "/" ? "'/'" : bad == ":" ? "':'" : "whitespace"), which interface names cannot")
        }
        var tokens: [Token] = []
        var chars = Array(pattern)[...]
        while let c = chars.popFirst() {
            switch c {
            case "*": if tokens.last != .anyRun { tokens.append(.anyRun) }
            case "?": tokens.append(.any)
            case "[":
                var negated = false
                if chars.first == "!" || chars.first == "^" { negated = true; chars = chars.dropFirst() }
                var ranges: [ClosedRange<Character>] = []
                var closed = false
                var first = true
                while let d = chars.popFirst() {
                    if d == "]" && !first { closed = true; break }
                    first = false
                    if chars.count >= 2, chars.first == "-", let hi = chars.dropFirst().first, hi != "]" {
                        guard d <= hi else { throw GlobError("\"\(pattern)\": range \(d)-\(hi) is reversed") }
                        ranges.append(d...hi)
                        chars = chars.dropFirst(2)
                    } else {
                        ranges.append(d...d)
                    }
                }
                guard closed else { throw GlobError("\"\(pattern)\": '[' is not closed by ']'") }
                tokens.append(.set(negated: negated, ranges: ranges))
            case "]": throw GlobError("\"\(pattern)\": ']' without '['")
            case "\\": throw GlobError("\"\(pattern)\": '\\' is not allowed (interface names have no special characters to escape)")
            default: tokens.append(.literal(c))
            }
        }
        self.pattern = pattern
        self.tokens = tokens
    }

    /// The pattern has no wildcard, set or range: it matches exactly one name, itself.
    public var isLiteral: Bool {
        tokens.allSatisfy { if case .literal = $0 { true } else { false } }
    }

    /// Whether the whole of `name` matches.
    public func matches(_ name: String) -> Bool {
        Self.match(tokens[...], Array(name)[...])
    }

    private static func match(_ p: ArraySlice<Token>, _ s: ArraySlice<Character>) -> Bool {
        guard let head = p.first else { return s.isEmpty }
        switch head {
        case .anyRun:
            var rest = s
            while true {
                if match(p.dropFirst(), rest) { return true }
                if rest.isEmpty { return false }
                rest = rest.dropFirst()
            }
        case .any:
            return !s.isEmpty && match(p.dropFirst(), s.dropFirst())
        case .literal(let c):
            return s.first == c && match(p.dropFirst(), s.dropFirst())
        case .set(let negated, let ranges):
            guard let c = s.first else { return false }
            return ranges.contains { $0.contains(c) } != negated && match(p.dropFirst(), s.dropFirst())
        }
    }

    public var description: String { pattern }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(pattern)
    }
}

/// Why a pattern was refused.
public struct GlobError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
