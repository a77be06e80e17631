/// An address subflows may come from, as `doctor` examines it: an endpoint's,
/// an address of an interface mptcpctld manages, or (when neither names any) a
/// global address of an interface that is up.
public struct UsedAddress: Hashable, Sendable {
    public var address: IPAddress
    /// The interface that holds the address; nil when none does.
    public var interfaceIndex: Int32?
    /// The interface an endpoint binds its subflows to (`dev IF`); nil when unbound.
    public var boundInterface: Int32?
    /// The endpoint that names the address, if one does.
    public var endpoint: Endpoint?

    public init(address: IPAddress, interfaceIndex: Int32?, boundInterface: Int32? = nil, endpoint: Endpoint? = nil) {
        self.address = address
        self.interfaceIndex = interfaceIndex
        self.boundInterface = boundInterface
        self.endpoint = endpoint
    }

    /// The interface subflows from the address should leave by: the bound one, else the holder.
    public var ownInterface: Int32? { boundInterface ?? interfaceIndex }

    /// The addresses to examine, endpoints first (in id order), each once.
    public static func collect(endpoints: [Endpoint], network: NetworkSnapshot, managedInterfaces: [String]) -> [UsedAddress] {
        var result: [UsedAddress] = []
        var seen = Set<IPAddress>()
        func holder(_ address: IPAddress) -> Int32? { network.addresses.first { $0.address == address }?.interfaceIndex }
        for e in endpoints.sorted(by: { $0.id < $1.id }) where seen.insert(e.address).inserted {
            result.append(UsedAddress(address: e.address, interfaceIndex: holder(e.address),
                                      boundInterface: e.interfaceIndex == 0 ? nil : e.interfaceIndex, endpoint: e))
        }
        let managed = Set(managedInterfaces)
        let candidates = network.addresses.filter { a in
            guard let link = network.link(a.interfaceIndex), !a.isLinkLocal, !a.address.isLoopback else { return false }
            return managed.isEmpty ? result.isEmpty && link.isUsable : managed.contains(link.name)
        }
        for a in candidates where seen.insert(a.address).inserted {
            result.append(UsedAddress(address: a.address, interfaceIndex: a.interfaceIndex))
        }
        return result
    }
}

extension IPAddress {
    /// 127.0.0.0/8 or ::1.
    var isLoopback: Bool {
        switch self {
        case .v4(let b): return b[0] == 127
        case .v6(let b): return b[0..<15].allSatisfy { $0 == 0 } && b[15] == 1
        }
    }
}
