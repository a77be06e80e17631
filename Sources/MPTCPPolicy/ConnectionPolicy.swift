import MPTCPKit

/// How a userspace-PM connection gets its extra subflows (`[[connection]] strategy`).
public enum Strategy: String, Hashable, Sendable, Codable, CaseIterable {
    /// Every allowed local address x every known remote address of the same family.
    case fullmesh
    /// N subflows over the initial address pair, from different source ports.
    case ndiffports
    /// One subflow from each allowed interface other than the initial one, to the peer's initial address.
    case perInterface = "per-interface"
    /// No extra subflows.
    case single
}

/// How traffic is steered over a connection's subflows (`[[connection]] mode`).
public enum SteeringMode: String, Hashable, Sendable, Codable, CaseIterable {
    /// Every subflow on an active interface carries traffic.
    case aggregate
    /// Backup-interface subflows are backup; the best one is promoted when no
    /// active subflow is left, and demoted once a primary has been back for `failback_hold`.
    case activeBackup = "active-backup"
    /// Handover interfaces get a subflow only while no active path is left.
    case handover
}

/// `10.0.0.0/8`, `::/0`, or a bare address (a host prefix).
public struct IPPrefix: Hashable, Sendable, Codable, CustomStringConvertible {
    public var address: IPAddress
    public var length: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(String(parts[0])) else { return nil }
        let maximum = address.isIPv4 ? 32 : 128
        if parts.count == 2 {
            guard let n = Int(parts[1]), (0...maximum).contains(n) else { return nil }
            length = n
        } else {
            length = maximum
        }
        self.address = address
    }

    public func contains(_ other: IPAddress) -> Bool {
        let other = other.unmapped
        guard other.isIPv4 == address.isIPv4 else { return false }
        let a = address.bytes, b = other.bytes
        var bits = length, i = 0
        while bits >= 8 { if a[i] != b[i] { return false }; bits -= 8; i += 1 }
        if bits == 0 { return true }
        let mask = UInt8(0xff) << (8 - bits)
        return a[i] & mask == b[i] & mask
    }

    public var description: String { "\(address)/\(length)" }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let prefix = IPPrefix(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a prefix: \(text)"))
        }
        self = prefix
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// Which connections a `[[connection]]` block applies to; every given key must match.
public struct ConnectionMatch: Hashable, Sendable, Codable {
    public enum Side: String, Hashable, Sendable, Codable, CaseIterable { case client, server }
    public var side: Side?
    public var remote: [IPPrefix] = []
    public var remotePorts: [UInt16] = []
    public var localPorts: [UInt16] = []
    /// The interface of the initial subflow.
    public var interfaces: [Glob] = []

    public init() {}

    /// Whether a connection with these properties matches.
    public func matches(side: Side, remote: IPAddress, remotePort: UInt16, localPort: UInt16, interface: String?) -> Bool {
        if let s = self.side, s != side { return false }
        if !self.remote.isEmpty && !self.remote.contains(where: { $0.contains(remote) }) { return false }
        if !remotePorts.isEmpty && !remotePorts.contains(remotePort) { return false }
        if !localPorts.isEmpty && !localPorts.contains(localPort) { return false }
        if !interfaces.isEmpty {
            guard let interface, interfaces.contains(where: { $0.matches(interface) }) else { return false }
        }
        return true
    }
}

/// Backoff for re-creating failed subflows:
/// `retry = { initial = "200ms", max = "30s", attempts = 10, join_timeout = "7s" }`.
public struct RetryPolicy: Hashable, Sendable, Codable {
    public var initialMilliseconds: Int = 200
    public var maximumMilliseconds: Int = 30_000
    public var attempts: Int = 10
    /// How long a requested subflow may stay half-open (its join unanswered) before
    /// it is destroyed and counted as a failure. The default, 7 s, is the kernel's
    /// first SYN and its first two retransmissions (initial RTO 1 s, doubling: sent
    /// at 0, 1 and 3 s, the last given 4 s), where the kernel itself would go on
    /// for about two minutes (`tcp_syn_retries` = 6) on a path that answers nothing.
    public var joinTimeoutMilliseconds: Int = RetryPolicy.defaultJoinTimeoutMilliseconds

    public static let defaultJoinTimeoutMilliseconds = 7000
    /// The bounds of `join_timeout`: below the kernel's first SYN retransmission
    /// (1 s) a slow but working path would never get its subflow.
    public static let joinTimeoutRange = 1000...600_000

    public init() {}

    public init(initialMilliseconds: Int, maximumMilliseconds: Int, attempts: Int,
                joinTimeoutMilliseconds: Int = RetryPolicy.defaultJoinTimeoutMilliseconds) {
        self.initialMilliseconds = initialMilliseconds
        self.maximumMilliseconds = maximumMilliseconds
        self.attempts = attempts
        self.joinTimeoutMilliseconds = joinTimeoutMilliseconds
    }

    /// The delay before attempt `n` (1-based): doubling from `initial`, capped at
    /// `max`, with up to 25 % jitter drawn from `jitter` (0..<1).
    public func delay(attempt n: Int, jitter: Double) -> Int {
        let base = min(maximumMilliseconds, initialMilliseconds << min(max(n - 1, 0), 20))
        return min(maximumMilliseconds, base + Int(Double(base) * 0.25 * min(max(jitter, 0), 0.999)))
    }

    /// Whether a slot that failed `failures` times may be tried again (the first
    /// try plus `attempts` retries; `attempts = 0` still allows one retry).
    public func allowsRetry(after failures: Int) -> Bool {
        failures < max(1, attempts) + 1
    }
}

/// One `[[connection]]` block.
public struct ConnectionPolicy: Hashable, Sendable, Codable {
    public var name: String
    public var match = ConnectionMatch()
    public var strategy: Strategy = .perInterface
    public var mode: SteeringMode = .aggregate
    /// Extra subflows beyond the initial one (the kernel enforces none in userspace mode).
    public var maxSubflows: Int = 8
    /// Subflows over the initial address pair with `strategy = "ndiffports"`.
    public var ndiffports: Int = 2
    public var retry = RetryPolicy()
    public var failbackHoldMilliseconds: Int = 3000
    /// 1-based position in the file; 0 for the built-in default.
    public var position: Int = 0

    public init(name: String) { self.name = name }

    /// What applies when no block matches.
    public static let builtInDefault = ConnectionPolicy(name: "built-in default")
}

/// Parses `"200ms"`, `"3s"`, `"1.5s"`, `"2m"` into milliseconds.
public func parseDuration(_ text: String) -> Int? {
    let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000)]
    for (suffix, scale) in units where text.hasSuffix(suffix) {
        let number = text.dropLast(suffix.count)
        if suffix == "s" && number.hasSuffix("m") { continue }
        guard let value = Double(number), value >= 0, value.isFinite else { return nil }
        let ms = value * scale
        guard ms <= 86_400_000 else { return nil }
        return Int(ms.rounded())
    }
    return nil
}
