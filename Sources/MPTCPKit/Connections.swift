/// Which end of the connection this host is.
public enum ConnectionSide: String, Hashable, Sendable {
    case client
    case server
}

/// A TCP subflow of an MPTCP connection, as sock_diag reports it.
public struct Subflow: Hashable, Sendable {
    public var localAddress: IPAddress
    public var localPort: UInt16
    public var remoteAddress: IPAddress
    public var remotePort: UInt16
    /// This host asked for the subflow to be backup (`MPTCP_SUBFLOW_FLAG_BKUP_LOC`).
    public var backupLocal: Bool
    /// The peer marked it backup (`MPTCP_SUBFLOW_FLAG_BKUP_REM`).
    public var backupRemote: Bool
    /// Per-connection address ids.
    public var localID: UInt8
    public var remoteID: UInt8
    /// The interface the subflow is bound to, or that holds its local address; 0 if unknown.
    public var interfaceIndex: Int32
    /// The subflow's TCP state (`syn-sent` while its join is unanswered).
    public var state: TCPState
    /// The local token of the connection it belongs to.
    public var token: UInt32
    /// The kernel's TCP view of the subflow (`struct tcp_info` from sock_diag);
    /// nil when the dump carried none.
    public var tcpInfo: TCPInfo? = nil

    /// Backup in either direction: the scheduler then uses it only when no other subflow can send.
    public var backup: Bool { backupLocal || backupRemote }

    /// Whether it carries traffic (established); see `TCPState.carriesTraffic`.
    public var carriesTraffic: Bool { state.carriesTraffic }
}

/// An MPTCP connection with its subflows.
public struct Connection: Hashable, Sendable {
    /// The local token (what events and userspace-PM commands use).
    public var token: UInt32
    public var side: ConnectionSide
    public var localAddress: IPAddress
    public var localPort: UInt16
    public var remoteAddress: IPAddress
    public var remotePort: UInt16
    /// TCP-style state of the MPTCP socket.
    public var state: TCPState
    public var info: MPTCPInfo
    public var subflows: [Subflow]
}

/// An MPTCP listening socket, as sock_diag reports it.
public struct Listener: Hashable, Sendable, CustomStringConvertible {
    public enum Family: Hashable, Sendable { case ipv4, ipv6 }
    /// The bound address (unspecified: every address of the family).
    public var address: IPAddress
    public var port: UInt16
    /// The socket's family: an IPv6 wildcard listener without IPV6_V6ONLY also takes IPv4.
    public var family: Family
    public var v6only: Bool
    /// SO_BINDTODEVICE, 0 when unbound.
    public var boundInterface: Int32

    public init(address: IPAddress, port: UInt16, family: Family, v6only: Bool = false, boundInterface: Int32 = 0) {
        self.address = address
        self.port = port
        self.family = family
        self.v6only = v6only
        self.boundInterface = boundInterface
    }

    /// Whether an MP_JOIN to `address`:`port` arriving on interface `interface` reaches this listener.
    public func accepts(_ address: IPAddress, port: UInt16, interface: Int32) -> Bool {
        guard port == self.port, boundInterface == 0 || boundInterface == interface else { return false }
        if !self.address.isUnspecified { return self.address == address }
        switch family {
        case .ipv4: return address.isIPv4
        case .ipv6: return !address.isIPv4 || !v6only
        }
    }

    public var description: String {
        let a = address.isUnspecified ? (family == .ipv4 ? "0.0.0.0" : "[::]") : (address.isIPv4 ? address.description : "[\(address)]")
        return "\(a):\(port)"
    }
}
