import MPTCPKit

/// A userspace-PM connection as the engine sees it: the initial path, what the
/// peer announced, the subflows that exist, and the per-connection address ids.
public struct ConnectionView: Hashable, Sendable {
    public var token: UInt32
    public var side: ConnectionMatch.Side
    public var local: AddressAndPort
    public var remote: AddressAndPort
    /// The interface of the initial subflow (bound device, else the holder of its address).
    public var initialInterface: Int32?
    /// The peer refuses joins to its initial address and port (`deny_join_id0`).
    public var denyJoinID0: Bool = false
    /// Addresses the peer announced (ADD_ADDR): id, address, port (0: the connection's).
    public var announced: [AnnouncedAddress] = []
    public var subflows: [SubflowView] = []
    /// Local address -> id on this connection (the kernel's per-connection list).
    public var localIDs: [IPAddress: UInt8] = [:]
    /// Local addresses this daemon announced to the peer (ADD_ADDR), with their ids.
    public var announcedLocal: [IPAddress: UInt8] = [:]

    public init(token: UInt32, side: ConnectionMatch.Side, local: AddressAndPort, remote: AddressAndPort, initialInterface: Int32?) {
        self.token = token
        self.side = side
        self.local = local
        self.remote = remote
        self.initialInterface = initialInterface
    }
}

public struct AnnouncedAddress: Hashable, Sendable {
    public var id: UInt8
    public var address: IPAddress
    public var port: UInt16
    public init(id: UInt8, address: IPAddress, port: UInt16) {
        self.id = id
        self.address = address
        self.port = port
    }
}

public struct SubflowView: Hashable, Sendable {
    public var local: AddressAndPort
    public var remote: AddressAndPort
    public var localID: UInt8
    /// This host marked it backup.
    public var backup: Bool
    public var interfaceIndex: Int32
    /// Its TCP state: `established`, or a join still under way (`syn-sent`).
    public var state: TCPState

    public init(local: AddressAndPort, remote: AddressAndPort, localID: UInt8, backup: Bool, interfaceIndex: Int32,
                state: TCPState = .established) {
        self.local = local
        self.remote = remote
        self.localID = localID
        self.backup = backup
        self.interfaceIndex = interfaceIndex
        self.state = state
    }

    /// Whether it is a path (`TCPState.carriesTraffic`); otherwise a join under way.
    public var carriesTraffic: Bool { state.carriesTraffic }
}

/// A subflow the policy wants: identified by its address pair and, for
/// ndiffports, an index over the same pair.
public struct SubflowSlot: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var local: IPAddress
    public var remote: IPAddress
    public var remotePort: UInt16
    public var index: Int

    public init(local: IPAddress, remote: IPAddress, remotePort: UInt16, index: Int) {
        self.local = local
        self.remote = remote
        self.remotePort = remotePort
        self.index = index
    }

    public static func < (a: SubflowSlot, b: SubflowSlot) -> Bool {
        (a.local.description, a.remote.description, a.remotePort, a.index) < (b.local.description, b.remote.description, b.remotePort, b.index)
    }

    public var description: String { "\(local)->\(AddressAndPort(address: remote, port: remotePort))#\(index)" }
}
