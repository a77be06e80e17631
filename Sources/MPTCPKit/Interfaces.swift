/// The namespace's interfaces and their addresses, read through rtnetlink
/// (`RTM_GETLINK` / `RTM_GETADDR` dumps).
public struct InterfaceTable: Sendable {
    /// Interface index → name.
    public var names: [Int32: String]
    /// Every address with the index of the interface that holds it.
    public var addresses: [(address: IPAddress, interfaceIndex: Int32)]

    public init(names: [Int32: String], addresses: [(address: IPAddress, interfaceIndex: Int32)]) {
        self.names = names
        self.addresses = addresses
    }

    /// Reads the table of `namespace` (`RTM_GETLINK` and `RTM_GETADDR` dumps).
    public static func read(namespace: NetworkNamespace = .current) throws(MPTCPError) -> InterfaceTable {
        try namespace.perform { () throws(MPTCPError) -> InterfaceTable in
            try NetworkReader().interfaceTable()
        }
    }

    /// Decodes dump replies with `RouteNetlinkDecoder`, as `NetworkSnapshot` does.
    init(linkMessages: [NetlinkMessage], addressMessages: [NetlinkMessage]) throws(DecodeError) {
        let snapshot = try NetworkSnapshot(linkMessages: linkMessages, addressMessages: addressMessages, routeMessages: [])
        names = Dictionary(snapshot.links.map { ($0.index, $0.name) }, uniquingKeysWith: { _, last in last })
        addresses = snapshot.addresses.map { ($0.address, $0.interfaceIndex) }
    }

    /// The index of the interface called `name`.
    public func index(of name: String) -> Int32? {
        names.first(where: { $0.value == name })?.key
    }

    /// The interface that holds `address`, if any.
    public func interface(holding address: IPAddress) -> Int32? {
        let wanted = address.unmapped
        return addresses.first(where: { $0.address == wanted })?.interfaceIndex
    }
}
