/// `[routing]`: the source routing the daemon owns, so that a subflow from an
/// address leaves through that address's interface (`mptcpctld.toml(5)`).
public struct RoutingSettings: Hashable, Sendable, Codable {
    /// `on`: the daemon keeps a table and a rule per used address; `off`: routing is the admin's.
    public enum Mode: String, Hashable, Sendable, Codable, CaseIterable { case on, off }

    /// `loose`: a managed interface whose rp_filter is strict (1) is set to loose (2),
    /// since strict drops the replies of subflows that leave by another interface than
    /// the main table's; `keep`: rp_filter is left alone.
    public enum ReversePathFilter: String, Hashable, Sendable, Codable, CaseIterable { case loose, keep }

    /// Tables that are never the daemon's: unspec (0), default (253), main (254), local (255).
    public static let reservedTables: Set<UInt32> = [0, 253, 254, 255]
    /// Rule priorities must lie strictly between the local rule (0) and the main one (32766).
    public static let allowedPriorities: ClosedRange<UInt32> = 1...32765

    /// The defaults keep clear of what others use: tables 52 and priorities 5210-5310
    /// (Tailscale), table 51820 and priorities 32764-32765 (wg-quick), 1000 (VRF), 9-100
    /// and tables 2004-2005 (Cilium), 512-1536 (AWS VPC CNI), the reserved tables; and
    /// they sit before the main table's rule (32766), which must not decide first.
    public static let defaultTables: ClosedRange<UInt32> = 7300...7399
    public static let defaultPriorities: ClosedRange<UInt32> = 7300...7399

    public var mode: Mode = .on
    /// `tables = "FIRST-LAST"`: one table per managed interface, taken from here.
    public var tables: ClosedRange<UInt32> = defaultTables
    /// `priorities = "FIRST-LAST"`: one rule priority per managed interface, taken from here.
    public var priorities: ClosedRange<UInt32> = defaultPriorities
    public var reversePathFilter: ReversePathFilter = .loose

    public init(mode: Mode = .on, tables: ClosedRange<UInt32> = defaultTables,
                priorities: ClosedRange<UInt32> = defaultPriorities, reversePathFilter: ReversePathFilter = .loose) {
        self.mode = mode
        self.tables = tables
        self.priorities = priorities
        self.reversePathFilter = reversePathFilter
    }

    enum CodingKeys: String, CodingKey {
        case mode, tables, priorities, reversePathFilter = "rpFilter"
    }

    /// Ranges as the file writes them (`"7300-7399"`), so `policy.show` reads like the file.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func range(_ key: CodingKeys) throws -> ClosedRange<UInt32> {
            let text = try c.decode(String.self, forKey: key)
            guard let r = Self.range(text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not FIRST-LAST: \(text)")
            }
            return r
        }
        mode = try c.decode(Mode.self, forKey: .mode)
        tables = try range(.tables)
        priorities = try range(.priorities)
        reversePathFilter = try c.decode(ReversePathFilter.self, forKey: .reversePathFilter)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(mode, forKey: .mode)
        try c.encode("\(tables.lowerBound)-\(tables.upperBound)", forKey: .tables)
        try c.encode("\(priorities.lowerBound)-\(priorities.upperBound)", forKey: .priorities)
        try c.encode(reversePathFilter, forKey: .reversePathFilter)
    }

    /// `"7300-7399"`, as written in the file; nil when `text` is not `FIRST-LAST`
    /// with FIRST <= LAST, both decimal and fitting 32 bits.
    public static func range(_ text: String) -> ClosedRange<UInt32>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2,
              parts.allSatisfy({ !$0.isEmpty && $0.count <= 10 && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let first = UInt32(parts[0]), let last = UInt32(parts[1]), first <= last else { return nil }
        return first...last
    }
}
