import MPTCPAPI
import MPTCPKit
import MPTCPPolicy

extension RoutingStatusRecord {
    /// What the routing owner owns, as `status` shows it: each rule and route
    /// named by the interface whose table it is.
    init(owned: RoutingOwnership, notes: [String], mode: RoutingSettings.Mode) {
        let words = RoutingWords(network: NetworkSnapshot(links: [], addresses: [], defaultRoutes: []), tables: owned.tables)
        self.init(
            mode: mode.rawValue, tables: owned.tables.mapValues { Int($0) },
            rules: owned.ownedRules.sorted { ($0.priority, $0.table) < ($1.priority, $1.table) }.map { r in
                Rule(family: RoutingWords.family(r.family), source: RoutingWords.prefix(r.source, r.sourcePrefixLength),
                     table: Int(r.table), priority: Int(r.priority), interface: words.interface(of: r),
                     suppressPrefixLength: r.suppressPrefixLength.map { Int($0) })
            },
            routes: owned.ownedRoutes.sorted { $0.table < $1.table }.map { r in
                Route(family: RoutingWords.family(r.family), table: Int(r.table),
                      destination: r.isDefault ? "default" : RoutingWords.prefix(r.destination, r.destinationPrefixLength),
                      gateway: r.gateway?.description, interface: words.tables[r.table], source: r.preferredSource?.description,
                      onLink: r.onLink)
            },
            reversePathFilter: owned.reversePathFilter, notes: notes)
    }
}
