import MPTCPKit

/// Gives each managed interface a table and a rule priority from the policy's
/// ranges. Stable: an interface keeps the table it owns (and its rules'
/// priority) while nobody else uses them; a new one gets the lowest number
/// that holds no route and no rule of anyone. Numbers others use are skipped,
/// never shared.
enum SlotAllocation {
    static func assign(_ interfaces: [ManagedInterface], settings: RoutingSettings, network: NetworkSnapshot,
                       owned: RoutingOwnership, notes: inout [RoutingNote]) -> [String: RoutingSlot] {
        let foreignTables = Set(network.routes.filter { !$0.isOurs }.map(\.table) + network.rules.filter { !$0.isOurs }.map(\.table))
        let foreignPriorities = Set(network.rules.filter { !$0.isOurs }.map(\.priority))
        var slots: [String: RoutingSlot] = [:]
        var takenTables = Set(network.routes.map(\.table) + network.rules.map(\.table) + owned.tables.values)
        var takenPriorities = Set(network.rules.map(\.priority))
        var keptTables: Set<UInt32> = [], keptPriorities: Set<UInt32> = []
        var kept: [String: (table: UInt32?, priority: UInt32?)] = [:]
        // First what is owned and still ours alone, so a new interface cannot take it.
        for m in interfaces {
            guard let t = owned.tables[m.name] ?? markedTable(of: m, network: network), settings.tables.contains(t),
                  !foreignTables.contains(t), !keptTables.contains(t)
            else { continue }
            keptTables.insert(t)
            var p: UInt32?
            if let q = ownedPriority(table: t, network: network, owned: owned), settings.priorities.contains(q),
               !foreignPriorities.contains(q), !keptPriorities.contains(q) {
                keptPriorities.insert(q)
                p = q
            }
            kept[m.name] = (t, p)
        }
        takenTables.formUnion(keptTables)
        takenPriorities.formUnion(keptPriorities)
        for m in interfaces {
            let table = kept[m.name]?.table ?? lowestFree(in: settings.tables, excluding: takenTables)
            let priority = kept[m.name]?.priority ?? lowestFree(in: settings.priorities, excluding: takenPriorities)
            guard let table, let priority else {
                let key = table == nil ? "routing.tables" : "routing.priorities"
                let range = table == nil ? settings.tables : settings.priorities
                notes.append(RoutingNote(
                    interface: m.name, key: key,
                    message: "\(m.name): no free \(table == nil ? "table" : "priority") left in \(key) \"\(range.lowerBound)-\(range.upperBound)\" "
                        + "(the others hold routes or rules); \(m.name) gets no source routing — widen the range"))
                continue
            }
            takenTables.insert(table)
            takenPriorities.insert(priority)
            slots[m.name] = RoutingSlot(table: table, priority: priority)
        }
        return slots
    }

    /// The table the daemon's routes on `m` are in, when its record misses it
    /// (killed between the change and the record).
    static func markedTable(of m: ManagedInterface, network: NetworkSnapshot) -> UInt32? {
        network.routes.filter { $0.isOurs && $0.outputInterface == m.index }.map(\.table).min()
    }

    /// The priority of the daemon's rules into `table`, as the kernel has them, else as recorded.
    static func ownedPriority(table: UInt32, network: NetworkSnapshot, owned: RoutingOwnership) -> UInt32? {
        network.rules.filter { $0.isOurs && $0.table == table }.map(\.priority).min()
            ?? owned.rules.filter { $0.table == table }.map(\.priority).min()
    }

    static func lowestFree(in range: ClosedRange<UInt32>, excluding taken: Set<UInt32>) -> UInt32? {
        var n = range.lowerBound
        while taken.contains(n) {
            guard n < range.upperBound else { return nil }
            n += 1
        }
        return n
    }
}
