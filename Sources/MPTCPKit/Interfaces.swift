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

    /// Reads the table of `namespace`.
    public static func read(namespace: NetworkNamespace = .current) throws -> InterfaceTable {
        try namespace.perform { () throws -> InterfaceTable in
            let sock = try NetlinkSocket(protocol: NL.protoRoute)
            // struct rtgenmsg: one byte of family (AF_UNSPEC), padded.
            let links = try sock.transact(type: Int32(RT.getLink), flags: NL.fDump, genlCommand: nil,
                                          payload: [0, 0, 0, 0], operation: "list interfaces")
            let addrs = try sock.transact(type: Int32(RT.getAddr), flags: NL.fDump, genlCommand: nil,
                                          payload: [0, 0, 0, 0], operation: "list addresses")
            return try decode("list interfaces") { () throws(DecodeError) in
                try InterfaceTable(linkMessages: links, addressMessages: addrs)
            }
        }
    }

    init(linkMessages: [NetlinkMessage], addressMessages: [NetlinkMessage]) throws(DecodeError) {
        names = [:]
        addresses = []
        for m in linkMessages where m.type == RT.newLink {
            // struct ifinfomsg: family u8, pad u8, type u16, index s32, flags u32, change u32
            guard m.payload.count >= 16 else { throw DecodeError("RTM_NEWLINK shorter than ifinfomsg") }
            let index = Int32(bitPattern: readLE32(m.payload, 4))
            if let name = try parseAttributes(m.payload[16...]).first(where: { $0.type == RT.iflaIfname }) {
                names[index] = name.string()
            }
        }
        for m in addressMessages where m.type == RT.newAddr {
            // struct ifaddrmsg: family u8, prefixlen u8, flags u8, scope u8, index u32
            guard m.payload.count >= 8 else { throw DecodeError("RTM_NEWADDR shorter than ifaddrmsg") }
            let index = Int32(bitPattern: readLE32(m.payload, 4))
            let attrs = try parseAttributes(m.payload[8...])
            // IFA_LOCAL is the local address on point-to-point links; IFA_ADDRESS otherwise.
            let chosen = attrs.first(where: { $0.type == RT.ifaLocal }) ?? attrs.first(where: { $0.type == RT.ifaAddress })
            if let chosen, let address = IPAddress(bytes: chosen.value) {
                addresses.append((address, index))
            }
        }
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
