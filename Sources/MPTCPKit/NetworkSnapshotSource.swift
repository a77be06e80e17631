/// Where a snapshot of a namespace's links, addresses and default routes comes
/// from. `NetworkReader` adopts it (four rtnetlink dumps); tests hand the daemon
/// a scripted network instead.
public protocol NetworkSnapshotSource: AnyObject {
    /// One consistent read of links, addresses and main-table default routes.
    func read() throws(MPTCPError) -> NetworkSnapshot
}

extension NetworkReader: NetworkSnapshotSource {}
