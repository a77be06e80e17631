import Glibc

/// The kernel's MPTCP counters of one network namespace: the `MPTcpExt` line
/// pair of `/proc/net/netstat` (what `nstat` shows as `MPTcpExt*`; names from
/// the kernel's net/mptcp/mib.c), field names in the kernel's order with their
/// values. All are cumulative counters since the namespace was made, except
/// `MPCurrEstab` (connections established now: see `isGauge`).
public struct MPTCPKernelCounters: Hashable, Sendable {
    /// One field of the line: its name as the kernel writes it and its value.
    public struct Field: Hashable, Sendable {
        public var name: String
        public var value: UInt64

        public init(name: String, value: UInt64) {
            self.name = name
            self.value = value
        }
    }

    /// The fields in the kernel's order.
    public var fields: [Field]

    public init(fields: [Field]) {
        self.fields = fields
    }

    /// The value of the field called `name`, nil when this kernel has no such field.
    public subscript(name: String) -> UInt64? {
        fields.first { $0.name == name }?.value
    }

    /// Whether the field is a level rather than a count of events (it can go down).
    public static func isGauge(_ name: String) -> Bool { name == "MPCurrEstab" }

    /// Reads `/proc/net/netstat` in `namespace`. Through `/proc/thread-self`:
    /// `/proc/net` is `/proc/self/net`, the namespace of the process's main
    /// thread, not of the thread that entered `namespace`.
    public static func read(namespace: NetworkNamespace = .current) throws(MPTCPError) -> MPTCPKernelCounters {
        let operation = "read the kernel's MPTCP counters (/proc/net/netstat)"
        let text = try namespace.perform { () throws(MPTCPError) -> String in
            try MPTCPSysctl.readFile("/proc/thread-self/net/netstat", operation: operation,
                                     missing: .notFound(operation, "/proc/thread-self/net/netstat does not exist",
                                                        errno: ENOENT, hint: "is /proc mounted?"))
        }
        return try parse(text)
    }

    /// The `MPTcpExt` header and value lines of a `/proc/net/netstat` text
    /// (pure). No such line: the kernel has no MPTCP (`notFound`); a header
    /// without its value line, a value that is not a number, or lines of
    /// different lengths: the file is not as the kernel writes it (`protocolViolation`).
    public static func parse(_ text: String) throws(MPTCPError) -> MPTCPKernelCounters {
        let operation = "read the kernel's MPTCP counters (/proc/net/netstat)"
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("MPTcpExt:") }
        guard !lines.isEmpty else {
            throw .notFound(operation, "no MPTcpExt line", hint: "is MPTCP enabled in this kernel (CONFIG_MPTCP)?")
        }
        guard lines.count == 2 else {
            throw .protocolViolation(operation, "\(lines.count) MPTcpExt lines, not a header line and a value line")
        }
        let names = lines[0].split(separator: " ").dropFirst()
        let values = lines[1].split(separator: " ").dropFirst()
        guard names.count == values.count else {
            throw .protocolViolation(operation, "\(names.count) MPTcpExt field names but \(values.count) values")
        }
        var fields: [Field] = []
        fields.reserveCapacity(names.count)
        for (name, text) in zip(names, values) {
            guard let value = UInt64(text) else {
                throw .protocolViolation(operation, "MPTcpExt field \(name) is \"\(text)\", not a number")
            }
            guard UInt64(name) == nil, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw .protocolViolation(operation, "\"\(name)\" is not an MPTcpExt field name")
            }
            fields.append(Field(name: String(name), value: value))
        }
        return MPTCPKernelCounters(fields: fields)
    }
}
