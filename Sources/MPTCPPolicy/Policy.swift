import MPTCPKit

/// The daemon's policy file, decoded and validated (`mptcpctld.toml(5)`).
public struct Policy: Hashable, Sendable, Codable {
    public var daemon: DaemonSettings
    public var kernel: KernelSettings
    /// `[[interface]]` blocks in file order; the first whose names match wins.
    public var interfaces: [InterfaceRule]
    /// `[[connection]]` blocks (userspace path manager) in file order; the first that matches wins.
    public var connections: [ConnectionPolicy]
    public var hooks: HookSettings = .init()
    public var metrics: MetricsSettings = .init()
    /// `[routing]`: the source routing the daemon owns.
    public var routing: RoutingSettings = .init()
    /// `[probe]`: path health probing for every path (`probeSettings(for:)` resolves one interface).
    public var probe: ProbeSettings = .init()

    public init(daemon: DaemonSettings = .init(), kernel: KernelSettings = .init(), interfaces: [InterfaceRule] = [],
                connections: [ConnectionPolicy] = []) {
        self.daemon = daemon
        self.kernel = kernel
        self.interfaces = interfaces
        self.connections = connections
    }

    /// The `[[interface]]` block that decides for interface `name`, if any.
    public func rule(for name: String) -> InterfaceRule? { interfaces.first { $0.matches(name) } }
}

/// `[daemon]`.
public struct DaemonSettings: Hashable, Sendable, Codable {
    /// The control socket's path; nil: `socketPath(namespace:)`'s default.
    public var socket: String? = nil
    /// The group owning the control socket (mode 0660): who may connect besides root.
    public var socketGroup: String? = nil
    /// Members of this group may call mutating API methods (root always may).
    public var adminGroup: String? = nil
    /// Where ownership state lives (`endpoints-NAME.json`).
    public var stateDirectory: String = "/run/mptcpctl"
    public var logLevel: LogLevel = .info
    /// Seconds between full resyncs; 0 turns them off.
    public var resyncInterval: Int = 60
    /// Receive buffer of the MPTCP event socket, bytes (userspace path manager).
    public var eventBuffer: Int = 16 << 20

    public init() {}

    /// The control socket: `socket` when set, else `defaultControlSocketPath`.
    public func socketPath(namespace name: String?) -> String {
        socket ?? defaultControlSocketPath(namespace: name)
    }
}

/// `[hooks]`: executables started on events (`mptcpctld(8)`, HOOKS).
public struct HookSettings: Hashable, Sendable, Codable {
    /// Run in name order; a missing directory means no hooks.
    public var directory: String = "/etc/mptcpctl/hooks.d"
    /// Seconds a hook may run before its process group gets SIGTERM (SIGKILL 1 s later).
    public var timeout: Int = 10
    /// Events whose hooks run at the same time, at most.
    public var maxConcurrent: Int = 4

    public init() {}
}

/// `[metrics]`.
public struct MetricsSettings: Hashable, Sendable, Codable {
    /// `HOST:PORT` (IPv6 as `[::1]:9464`) to serve `/metrics` over HTTP; nil: off.
    public var listen: String? = nil
    /// `per_connection`: per-connection series (`mptcpctld_connection_*`) for at
    /// most this many connections, those that moved the most bytes; 0 (the
    /// default): none, so the series count does not grow with the connections.
    public var perConnection: Int = 0

    public init() {}
}

/// swift-log's levels, named as in the file.
public enum LogLevel: String, Hashable, Sendable, Codable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

/// `[kernel]`: namespace-wide settings. `nil` means "keep what the kernel has".
public struct KernelSettings: Hashable, Sendable, Codable {
    /// `kernel` or `userspace`; nil for `keep`.
    public var pathManager: String? = nil
    /// A scheduler name; nil for `keep`.
    public var scheduler: String? = nil
    public var subflowsLimit: UInt32? = nil
    public var addAddrAcceptedLimit: UInt32? = nil
    public var onExit: OnExit = .remove

    public init() {}

    public enum OnExit: String, Hashable, Sendable, Codable, CaseIterable {
        case remove, keep
    }
}

/// How addresses on matching interfaces are used.
public enum Role: String, Hashable, Sendable, Codable, CaseIterable {
    /// A `subflow` endpoint: carries traffic.
    case active
    /// A `subflow backup` endpoint: used when no active subflow can send.
    case backup
    /// Userspace PM: a subflow only while a connection has no active path left
    /// (a metered radio). The in-kernel PM cannot express this: there it is `backup`.
    case handover
    /// Not used.
    case off
}

/// IP families an interface block applies to.
public enum AddressFamily: String, Hashable, Sendable, Codable, CaseIterable {
    case ipv4, ipv6
}

/// One `[[interface]]` block.
public struct InterfaceRule: Hashable, Sendable, Codable {
    /// Shell-style globs matched against the whole interface name.
    public var names: [Glob]
    public var role: Role
    /// Also advertise the addresses to peers (`signal`).
    public var announce: Bool = false
    /// Userspace PM: the port the addresses are announced on (ADD_ADDR with a
    /// port), where the daemon holds an MPTCP listener; nil: the connection's own port.
    public var announcePort: UInt16? = nil
    /// `fullmesh`: a subflow to every address the peer announced.
    public var fullmesh: Bool = false
    public var families: Set<AddressFamily> = [.ipv4, .ipv6]
    public var skipLinkLocal: Bool = true
    /// Only use an address once a default route of its family leaves through its interface.
    public var requireDefaultRoute: Bool = false
    /// `gateway`: the next hop of the interface's default route in its source-routing
    /// table when the system's routes name none; at most one per family.
    @AddressList public var gateways: [IPAddress] = []
    /// `probe = { ... }` already merged over `[probe]` by the loader, or
    /// `probe = false` (mode off); nil: inherit `[probe]`.
    public var probe: ProbeSettings? = nil
    /// 1-based position in the file, for reasons and messages.
    public var position: Int = 0

    public init(names: [Glob], role: Role, announce: Bool = false, fullmesh: Bool = false,
                families: Set<AddressFamily> = [.ipv4, .ipv6], skipLinkLocal: Bool = true,
                requireDefaultRoute: Bool = false, position: Int = 0) {
        self.names = names
        self.role = role
        self.announce = announce
        self.fullmesh = fullmesh
        self.families = families
        self.skipLinkLocal = skipLinkLocal
        self.requireDefaultRoute = requireDefaultRoute
        self.position = position
    }

    /// Whether a block names this interface.
    public func matches(_ name: String) -> Bool { names.contains { $0.matches(name) } }

    /// The endpoint flags for addresses this block uses.
    public var endpointFlags: EndpointFlags {
        var flags: EndpointFlags = .subflow
        if role == .backup || role == .handover { flags.insert(.backup) }
        if announce { flags.insert(.signal) }
        if fullmesh { flags.insert(.fullmesh) }
        return flags
    }

    /// `interface[2] "eth*"`, for messages.
    public var label: String {
        "interface[\(position)] " + names.map { "\"\($0.pattern)\"" }.joined(separator: ",")
    }
}

/// `[metrics] listen`, parsed: an IP address (no host names: the daemon must not
/// depend on name resolution) and a port.
public struct MetricsListen: Hashable, Sendable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(_ text: String) {
        var hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
            guard hostPart.contains(":" as Character) else { return nil }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            guard !hostPart.contains(":" as Character) else { return nil }
        }
        guard let address = IPAddress(String(hostPart)), let port = Int(portPart), (1...65535).contains(port),
              portPart.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        host = address.description
        self.port = port
    }
}
