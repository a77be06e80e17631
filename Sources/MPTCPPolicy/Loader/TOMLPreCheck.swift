/// The first thing in `text` that toml++ (inside TOMLKit) must not see, with
/// its line and column (from 1). toml++'s debug builds `assert()` on some
/// malformed input, aborting the process (its release builds assume instead:
/// undefined behaviour), so these are refused before it parses:
/// - a control character TOML forbids anywhere (U+0000-U+0008, U+000B, U+000C,
///   U+000E-U+001F, U+007F);
/// - a non-ASCII character outside strings and comments (TOML 1.0's bare keys
///   are ASCII; toml++ also takes U+2028, U+2029 and U+0085 for separators);
/// - a table header whose name starts with anything but a key (`[#x]`, `[.]`);
/// - a `}` right after `[` or `,` (`x = ["a", }`);
/// - in a value, a date followed by `T` and no hour (`1979-05-27T:`), or a
///   token followed by a space and a digit that is not a date and a time
///   (`1979-05-27 1`).
/// Each was found by fuzzing or by reading toml++'s parser; valid TOML 1.0 has
/// none of them. Strings are followed the way toml++ reads them: a multi-line
/// string ends at a run of three to five quotes, the extra ones its content.
func forbiddenCharacter(in text: String) -> (line: Int, column: Int, message: String)? {
    var check = TOMLPreCheck(text)
    return check.firstForbidden()
}

/// The scan behind `forbiddenCharacter(in:)`: one pass over the scalars,
/// following comments and strings the way toml++ reads them.
struct TOMLPreCheck {
    typealias Finding = (line: Int, column: Int, message: String)

    private enum State { case code, comment, basic, literal, multilineBasic, multilineLiteral }

    /// What one scalar leads to: move on by some scalars, or stop at a finding.
    private enum Step {
        case advance(Int)
        case found(Finding)
    }

    private let scalars: [UInt32]
    private var state = State.code
    private var line = 1
    private var column = 0
    private var i = 0
    // Nothing but blanks on this line so far.
    private var lineStart = true
    // The last character of code, outside blanks, line breaks, comments and strings.
    private var lastCode: UInt32 = 0
    // The arrays (`[`) and inline tables (`{`) open here, innermost last.
    private var open: [UInt32] = []
    // Opening brackets of a table header still to pass (they open no array).
    private var headerBrackets = 0

    init(_ text: String) { scalars = text.unicodeScalars.map(\.value) }

    /// The first forbidden thing, or nil when toml++ may parse the text.
    mutating func firstForbidden() -> Finding? {
        while i < scalars.count {
            let v = scalars[i]
            column += 1
            if v == 0x0A {
                line += 1
                column = 0
                lineStart = true
                if state == .comment || state == .basic || state == .literal { state = .code }
                i += 1
                continue
            }
            if state == .code && lineStart && v == 0x5B && open.isEmpty, let finding = tableHeader() { return finding }
            if v != 0x20 && v != 0x09 { lineStart = false }
            if (v < 0x20 && v != 0x09 && v != 0x0D) || v == 0x7F {
                return (line, column, "control character \(Self.hex(v)) is not allowed")
            }
            let step: Step
            switch state {
            case .code: step = code(v)
            case .comment: step = .advance(1)
            case .basic, .multilineBasic: step = basicString(v)
            case .literal, .multilineLiteral: step = literalString(v)
            }
            switch step {
            case .advance(let n): i += n
            case .found(let finding): return finding
            }
        }
        return nil
    }

    /// A table header: toml++ asserts unless its first key starts like a key.
    private mutating func tableHeader() -> Finding? {
        var j = i + 1
        if at(j) == 0x5B { j += 1 }
        headerBrackets = j - i
        while at(j) == 0x20 || at(j) == 0x09 { j += 1 }
        if j >= scalars.count || !Self.isKeyStart(scalars[j]) {
            let what = j >= scalars.count || scalars[j] == 0x0A || scalars[j] == 0x0D
                ? "a table header without a name" : "a table name starting with \(Self.hex(scalars[j]))"
            return (line, column + (j - i), what + " is not allowed")
        }
        return nil
    }

    /// A scalar outside strings and comments.
    private mutating func code(_ v: UInt32) -> Step {
        if v > 0x7F { return .found((line, column, "non-ASCII character \(Self.hex(v)) is not allowed outside a string or comment")) }
        let inValue = lastCode == 0x3D || (open.last == 0x5B && (lastCode == 0x5B || lastCode == 0x2C))
        if inValue && Self.isDigit(v), let finding = valueToken() { return .found(finding) }
        if v == 0x7D && (lastCode == 0x5B || lastCode == 0x2C) {
            return .found((line, column, "'}' cannot follow '\(lastCode == 0x5B ? "[" : ",")'"))
        }
        if v == 0x5B && headerBrackets > 0 {
            headerBrackets -= 1
        } else if v == 0x5B || v == 0x7B {
            open.append(v)
        } else if (v == 0x5D || v == 0x7D) && !open.isEmpty {
            open.removeLast()
        }
        if v != 0x20 && v != 0x09 && v != 0x0D && v != 0x23 { lastCode = v }
        if v == 0x23 {
            state = .comment
        } else if starts(0x22) {
            state = .multilineBasic; column += 2; return .advance(3)
        } else if starts(0x27) {
            state = .multilineLiteral; column += 2; return .advance(3)
        } else if v == 0x22 {
            state = .basic
        } else if v == 0x27 {
            state = .literal
        }
        return .advance(1)
    }

    /// A value starting with a digit at `i`: a date with a `T` and no hour, or
    /// a token, a space and a digit that is not a date and a time.
    private func valueToken() -> Finding? {
        var j = i
        while j < scalars.count && !Self.endsValue(scalars[j]) { j += 1 }
        let token = scalars[i..<j]
        let date = token.count >= 10 && (0..<10).allSatisfy { k in
            k == 4 || k == 7 ? token[i + k] == 0x2D : Self.isDigit(token[i + k])
        }
        if date && token.count >= 11 && (at(i + 10) == 0x54 || at(i + 10) == 0x74) && (token.count == 11 || !Self.isDigit(at(i + 11))) {
            return (line, column, "a date and 'T' must be followed by the hour")
        }
        if at(j) == 0x20 && Self.isDigit(at(j + 1)) && !(date && token.count == 10 && Self.isDigit(at(j + 2)) && at(j + 3) == 0x3A) {
            return (line, column, "a value followed by a space and a digit must be a date and a time")
        }
        return nil
    }

    /// Inside `"..."` or `"""..."""`.
    private mutating func basicString(_ v: UInt32) -> Step {
        if v == 0x5C { column += 1; return .advance(2) }  // an escape: skip what it escapes
        if state == .basic && v == 0x22 { state = .code }
        if state == .multilineBasic && starts(0x22) { return closeMultiline(0x22) }
        return .advance(1)
    }

    /// Inside `'...'` or `'''...'''`.
    private mutating func literalString(_ v: UInt32) -> Step {
        if state == .literal {
            if v == 0x27 { state = .code }
            return .advance(1)
        }
        return starts(0x27) ? closeMultiline(0x27) : .advance(1)
    }

    /// A multi-line string ends at a run of three to five quotes, the extra ones its content.
    private mutating func closeMultiline(_ quote: UInt32) -> Step {
        let run = min(5, scalars[i...].prefix { $0 == quote }.count)
        state = .code
        column += run - 1
        return .advance(run)
    }

    private func at(_ k: Int) -> UInt32 { k < scalars.count ? scalars[k] : 0 }

    private func starts(_ quotes: UInt32) -> Bool { at(i) == quotes && at(i + 1) == quotes && at(i + 2) == quotes }

    private static func hex(_ v: UInt32) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    private static func isDigit(_ v: UInt32) -> Bool { (0x30...0x39).contains(v) }

    /// What ends a value token for toml++: blanks, line breaks, `,`, `]`, `}`, `#`.
    private static func endsValue(_ v: UInt32) -> Bool {
        v == 0x20 || v == 0x09 || v == 0x0D || v == 0x0A || v == 0x2C || v == 0x5D || v == 0x7D || v == 0x23
    }

    private static func isKeyStart(_ v: UInt32) -> Bool {
        (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v) || isDigit(v)
            || v == 0x5F || v == 0x2D || v == 0x22 || v == 0x27 || v == 0x5D
    }
}
