extension StringProtocol {
    /// Without leading and trailing whitespace and line ends
    /// (`Character.isWhitespace`): what Foundation's
    /// `trimmingCharacters(in: .whitespacesAndNewlines)` gave, which
    /// FoundationEssentials lacks.
    func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else {
            return ""
        }
        return String(self[first...last])
    }
}
