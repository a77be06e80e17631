/// Spells the commands a check proposes for the namespace `doctor` examined:
/// `ip -n NS …`, `ip netns exec NS sysctl …`, `mptcpctl -n NS …`, so a fix can
/// be pasted as it is.
public struct FixCommands: Hashable, Sendable {
    /// The namespace's name under /run/netns; nil for the one `doctor` runs in.
    public var namespace: String?

    public init(namespace: String? = nil) { self.namespace = namespace }

    /// `ip [-6] [-n NS] WORDS…`
    public func ip(_ words: String, ipv6: Bool = false) -> String {
        "ip" + (ipv6 ? " -6" : "") + (namespace.map { " -n \($0)" } ?? "") + " " + words
    }

    /// `sysctl -w KEY=VALUE`, inside the namespace when there is one.
    public func sysctl(_ key: String, _ value: String) -> String {
        (namespace.map { "ip netns exec \($0) " } ?? "") + "sysctl -w \(key)=\(value)"
    }

    /// `mptcpctl [-n NS] WORDS…`
    public func mptcpctl(_ words: String) -> String {
        "mptcpctl" + (namespace.map { " -n \($0)" } ?? "") + " " + words
    }
}
