import NIOConcurrencyHelpers
import MPTCPAPI
import MPTCPKit
import Synchronization

/// What changed between two reads of links and addresses, as interface events.
func interfaceEvents(from old: NetworkSnapshot, to new: NetworkSnapshot) -> [DaemonEvent] {
    var events: [DaemonEvent] = []
    let before = Dictionary(old.links.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
    for link in new.links.sorted(by: { $0.index < $1.index }) {
        let wasUp = before[link.index]?.isUsable
        let up = link.isUsable
        if wasUp != up && !(wasUp == nil && !up) {
            events.append(DaemonEvent(.interface, up ? "link_up" : "link_down", [
                "interface": .string(link.name), "interface_index": .integer(Int64(link.index)),
                "oper_state": .string(link.operState.description),
            ]))
        }
    }
    let now = Set(new.links.map(\.index))
    for link in old.links where !now.contains(link.index) && link.isUsable {
        events.append(DaemonEvent(.interface, "link_down", [
            "interface": .string(link.name), "interface_index": .integer(Int64(link.index)), "oper_state": "gone",
        ]))
    }
    func key(_ a: InterfaceAddress) -> String { "\(a.interfaceIndex) \(a.address)/\(a.prefixLength)" }
    let oldAddresses = Set(old.addresses.map(key))
    let newAddresses = Set(new.addresses.map(key))
    let names = Dictionary((old.links + new.links).map { ($0.index, $0.name) }, uniquingKeysWith: { _, b in b })
    func event(_ type: String, _ a: InterfaceAddress) -> DaemonEvent {
        var f: [String: JSONValue] = ["address": .string(a.address.description), "prefix_length": .integer(Int64(a.prefixLength)),
                                      "interface_index": .integer(Int64(a.interfaceIndex))]
        if let name = names[a.interfaceIndex] { f["interface"] = .string(name) }
        return DaemonEvent(.interface, type, f)
    }
    for a in new.addresses where !oldAddresses.contains(key(a)) { events.append(event("address_added", a)) }
    for a in old.addresses where !newAddresses.contains(key(a)) { events.append(event("address_removed", a)) }
    return events
}
