import MPTCPKit

/// An interface whose used addresses get source routing: the addresses the
/// policy uses on it (as endpoints, subflow sources or announcements), in the
/// endpoint planner's order, and the block that decides for it.
struct ManagedInterface: Hashable, Sendable {
    var name: String
    var index: Int32
    var rule: InterfaceRule
    var addresses: [InterfaceAddress]

    /// The interfaces behind `used` (from `Planner.desiredEndpoints`, the one place
    /// that matches addresses to blocks), in the order of their first used address.
    static func from(_ used: [DesiredEndpoint], policy: Policy, network: NetworkSnapshot) -> [ManagedInterface] {
        var order: [String] = []
        var byName: [String: ManagedInterface] = [:]
        for d in used {
            guard let address = network.addresses.first(where: { $0.address == d.address && $0.interfaceIndex == d.interfaceIndex }),
                  let rule = policy.rule(for: d.interfaceName) else { continue }
            if byName[d.interfaceName] == nil {
                order.append(d.interfaceName)
                byName[d.interfaceName] = ManagedInterface(name: d.interfaceName, index: d.interfaceIndex, rule: rule, addresses: [])
            }
            byName[d.interfaceName]?.addresses.append(address)
        }
        return order.compactMap { byName[$0] }
    }
}

/// The table and rule priority an interface's source routing uses.
struct RoutingSlot: Hashable, Sendable {
    var table: UInt32
    var priority: UInt32
}

extension IPAddress {
    /// The address with every bit past `length` cleared: the prefix's network address.
    func masked(to length: UInt8) -> IPAddress {
        var b = bytes
        var bits = Int(length)
        for i in b.indices {
            if bits >= 8 { bits -= 8; continue }
            b[i] &= bits == 0 ? 0 : UInt8(0xff) << (8 - bits)
            bits = 0
        }
        return IPAddress(bytes: b) ?? self
    }

    /// 32 or 128.
    var fullPrefixLength: UInt8 { isIPv4 ? 32 : 128 }
}

/// `ipv4` / `ipv6` of an address, in the policy's terms.
func policyFamily(_ address: IPAddress) -> AddressFamily { address.isIPv4 ? .ipv4 : .ipv6 }

/// `AF_INET` / `AF_INET6`, as `Route.family` and `RoutingRule.family` hold them.
let kernelFamilyIPv4: UInt16 = 2
let kernelFamilyIPv6: UInt16 = 10
