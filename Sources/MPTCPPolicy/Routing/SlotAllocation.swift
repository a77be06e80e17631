import MPTCPKit

/// Gives each managed interface a table and a rule priority from the policy's
/// ranges, after reserving the priority of the rule that passes over main's
/// default route (`RoutingRule.mainWithoutDefault`), which must come before
/// every source rule. Stable: an interface keeps the table it owns (and its
/// rules' priority, while above the reserved one) while nobody else uses them;
/// a new one gets the lowest number that holds no route and no rule of anyone.
/// Numbers others use are skipped, never shared. The range's last priority is
/// kept for the initial-path rule (`InitialPath`), which must come after every
/// source rule: a source rule takes it only when nothing else is free.
enum SlotAllocation {
    /// The interfaces' slots and the suppress rule's priority (nil when no interface gets a slot).
    struct Assignment {
        var slots: [String: RoutingSlot] = [:]
        var suppressPriority: UInt32?
        /// The initial-path rule's priority (the range's last); nil when a source rule or someone else holds it.
        var initialPathPriority: UInt32?
    }

    static func assign(_ interfaces: [ManagedInterface], settings: RoutingSettings, network: NetworkSnapshot,
                       owned: RoutingOwnership, notes: inout [RoutingNote]) -> Assignment {
        guard !interfaces.isEmpty else { return Assignment() }
        let foreignTables = Set(network.routes.filter { !$0.isOurs }.map(\.table) + network.rules.filter { !$0.isOurs }.map(\.table))
        let foreignPriorities = Set(network.rules.filter { !$0.isOurs }.map(\.priority))
        guard let first = suppressPriority(settings: settings, network: network, owned: owned, foreign: foreignPriorities) else {
            let range = settings.priorities
            notes += interfaces.map { m in
                RoutingNote(interface: m.name, key: "routing.priorities",
                            message: "\(m.name): no priority in routing.priorities \"\(range.lowerBound)-\(range.upperBound)\" is free "
                                + "for the rule that keeps main's specific routes first (others' rules hold them all); "
                                + "\(m.name) gets no source routing — widen the range")
            }
            return Assignment()
        }
        // Source rules come after the suppress rule; none when it is the range's last.
        let above: ClosedRange<UInt32>? = first < settings.priorities.upperBound ? (first + 1)...settings.priorities.upperBound : nil
        var slots: [String: RoutingSlot] = [:]
        var takenTables = Set(network.routes.map(\.table) + network.rules.map(\.table) + owned.tables.values)
        var takenPriorities = Set(network.rules.map(\.priority)).union([first])
        var keptTables: Set<UInt32> = [], keptPriorities: Set<UInt32> = []
        var kept: [String: (table: UInt32?, priority: UInt32?)] = [:]
        // First what is owned and still ours alone, so a new interface cannot take it.
        for m in interfaces {
            guard let t = owned.tables[m.name] ?? markedTable(of: m, network: network), settings.tables.contains(t),
                  !foreignTables.contains(t), !keptTables.contains(t)
            else { continue }
            keptTables.insert(t)
            var p: UInt32?
            if let q = ownedPriority(table: t, network: network, owned: owned), above?.contains(q) == true,
               !foreignPriorities.contains(q), !keptPriorities.contains(q) {
                keptPriorities.insert(q)
                p = q
            }
            kept[m.name] = (t, p)
        }
        takenTables.formUnion(keptTables)
        takenPriorities.formUnion(keptPriorities)
        let last = settings.priorities.upperBound
        for m in interfaces {
            let table = kept[m.name]?.table ?? lowestFree(in: settings.tables, excluding: takenTables)
            let priority = kept[m.name]?.priority
                ?? above.flatMap { lowestFree(in: $0, excluding: takenPriorities.union([last])) ?? lowestFree(in: $0, excluding: takenPriorities) }
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
        guard !slots.isEmpty else { return Assignment() }
        let lastIsFree = last != first && !foreignPriorities.contains(last) && !slots.values.contains { $0.priority == last }
        return Assignment(slots: slots, suppressPriority: first, initialPathPriority: lastIsFree ? last : nil)
    }

    /// The suppress rule's priority: the one it has (in the kernel, else as
    /// recorded) while in the range and no one else's, else the range's lowest
    /// that no foreign rule holds; nil when others hold them all.
    static func suppressPriority(settings: RoutingSettings, network: NetworkSnapshot, owned: RoutingOwnership,
                                 foreign: Set<UInt32>) -> UInt32? {
        let present = network.rules.filter { $0.isOurs && $0.isMainWithoutDefault }.map(\.priority).min()
            ?? owned.rules.filter { $0.suppressPrefixLength != nil }.map(\.priority).min()
        if let present, settings.priorities.contains(present), !foreign.contains(present) { return present }
        return lowestFree(in: settings.priorities, excluding: foreign)
    }

    /// The table the daemon's routes on `m` are in, when its record misses it
    /// (killed between the change and the record).
    static func markedTable(of m: ManagedInterface, network: NetworkSnapshot) -> UInt32? {
        network.routes.filter { $0.isOurs && $0.outputInterface == m.index }.map(\.table).min()
    }

    /// The priority of the daemon's source rules into `table`, as the kernel has them, else as recorded
    /// (the initial-path rule into it is not one).
    static func ownedPriority(table: UInt32, network: NetworkSnapshot, owned: RoutingOwnership) -> UInt32? {
        network.rules.filter { $0.isOurs && $0.table == table && $0.source != nil }.map(\.priority).min()
            ?? owned.rules.filter { $0.table == table && $0.source != nil }.map(\.priority).min()
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
