import Testing
@testable import MPTCPDaemon

/// The stdlib replacement of Foundation's `trimmingCharacters(in:)`.
@Suite struct TrimmingTests {
    @Test func trimmingWhitespaceDropsBlanksAndLineEndsAtBothEndsOnly() {
        #expect(" \t hook said: a  b \r\n\n".trimmingWhitespace() == "hook said: a  b")
        #expect("\u{00A0}x\u{2028}".trimmingWhitespace() == "x")
        #expect(" \n\t ".trimmingWhitespace() == "")
        #expect("".trimmingWhitespace() == "")
        #expect("x".trimmingWhitespace() == "x")
    }
}
