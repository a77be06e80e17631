import Glibc

/// What this kernel can do for MPTCP, learnt by trying it in a throw-away
/// namespace (`ThrowAwayNamespace`) rather than guessed from its version: a
/// kernel that does not know a flag drops it silently, so each flag is set on
/// an endpoint and read back.
public struct KernelCapabilities: Hashable, Sendable {
    /// `socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP)` works in a fresh namespace.
    public var sockets: Bool
    /// The `mptcp_pm` generic-netlink family answers.
    public var pathManagerFamily: Bool
    /// The endpoint flags the kernel kept when set one at a time.
    public var endpointFlags: EndpointFlags
    /// The flags it dropped or refused.
    public var missingFlags: EndpointFlags
    /// The path managers it offers and could select (written and read back).
    public var pathManagers: [String]
    /// The packet schedulers it offers.
    public var schedulers: [String]

    public init(sockets: Bool, pathManagerFamily: Bool, endpointFlags: EndpointFlags, missingFlags: EndpointFlags,
                pathManagers: [String], schedulers: [String]) {
        self.sockets = sockets
        self.pathManagerFamily = pathManagerFamily
        self.endpointFlags = endpointFlags
        self.missingFlags = missingFlags
        self.pathManagers = pathManagers
        self.schedulers = schedulers
    }

    /// The flags probed, each on its own endpoint (a documentation address, never routed).
    static let probedFlags: [EndpointFlags] = [.signal, .subflow, .backup, .fullmesh, .laminar]

    /// Probes the running kernel in a namespace of its own, which goes when the probe ends.
    public static func probe() throws(MPTCPError) -> KernelCapabilities {
        try ThrowAwayNamespace.perform { () throws(MPTCPError) -> KernelCapabilities in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), MPTCPListener.ipprotoMPTCP)
            if fd >= 0 { close(fd) }
            var kept = EndpointFlags(), missing = EndpointFlags()
            var family = false
            if let pm = try? PathManager(namespace: .current) {
                family = true
                for (i, flag) in probedFlags.enumerated() {
                    let id = UInt8(10 + i)
                    let probe = Endpoint(id: id, address: .v4([192, 0, 2, UInt8(10 + i)]), flags: flag)
                    let back = try? { () throws(MPTCPError) -> Endpoint in
                        try pm.addEndpoint(probe)
                        return try pm.endpoint(id: id)
                    }()
                    if back?.flags.contains(flag) == true { kept.insert(flag) } else { missing.insert(flag) }
                }
            }
            let sysctl = MPTCPSysctl(namespace: .current)
            var selectable: [String] = []
            for name in (try? sysctl.availablePathManagers()) ?? [] {
                if (try? sysctl.setPathManager(name)) != nil, (try? sysctl.pathManager()) == name { selectable.append(name) }
            }
            return KernelCapabilities(sockets: fd >= 0, pathManagerFamily: family, endpointFlags: kept, missingFlags: missing,
                                      pathManagers: selectable, schedulers: (try? sysctl.availableSchedulers()) ?? [])
        }
    }
}
