import MPTCPKit

/// An address and port where an MPTCP listener is wanted.
public struct ListenAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    public static func < (a: ListenAddress, b: ListenAddress) -> Bool { (a.address, a.port) < (b.address, b.port) }

    public var description: String { AddressAndPort(address: address, port: port).description }
}

/// Which MPTCP listeners the daemon holds for its own announcements (pure).
///
/// The userspace path manager opens no listener for what it announces: a join
/// to an announced address is refused unless some MPTCP socket listens on that
/// address (or the wildcard) and the announced port. On each server-side
/// connection the daemon announces the addresses of `announce = true`
/// interfaces on the block's `announce_port`, else on the connection's own
/// port; where no other listener takes such a join, it holds one itself, for
/// as long as a connection may be offered that address and port.
public enum AnnouncementListeners {
    /// The port `candidate`'s address is announced on to connection `c`: its
    /// block's `announce_port`, else the connection's own (local) port.
    public static func port(for candidate: DesiredEndpoint, policy: Policy, connection c: ConnectionView) -> UInt16 {
        policy.interfaces.first { $0.position == candidate.rule }?.announcePort ?? c.local.port
    }

    /// The listeners to hold: one per (announced address, port) that some
    /// managed server-side connection is offered and that no listener in
    /// `others` (the namespace's listeners that are not the daemon's) accepts.
    /// Client-side connections announce nothing and need none.
    public static func wanted(_ context: ConnectionEngine.Context, connections: [ConnectionView],
                              others: [Listener]) -> Set<ListenAddress> {
        let announced = context.candidates.filter { $0.flags.contains(.signal) }
        guard !announced.isEmpty else { return [] }
        var result: Set<ListenAddress> = []
        for c in connections where c.side == .server {
            for l in announced where l.address != c.local.address {
                let wanted = ListenAddress(address: l.address, port: port(for: l, policy: context.policy, connection: c))
                if result.contains(wanted) { continue }
                if others.contains(where: { $0.accepts(l.address, port: wanted.port, interface: l.interfaceIndex) }) { continue }
                result.insert(wanted)
            }
        }
        return result
    }
}
