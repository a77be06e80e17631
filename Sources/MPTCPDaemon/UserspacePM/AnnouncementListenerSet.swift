import Logging
import MPTCPKit
import MPTCPPolicy

/// The MPTCP listeners the daemon holds for its own announcements, opened and
/// closed to match `AnnouncementListeners.wanted` (the decision is pure; this
/// is the I/O around it).
///
/// Not thread-safe: the connection manager calls it on the thread that owns it.
final class AnnouncementListenerSet {
    private let namespace: NetworkNamespace
    private let logger: Logger
    /// Where opening, closing and refusals are published.
    private let hub: EventHub
    private var held: [ListenAddress: MPTCPListener] = [:]
    /// Listeners that could not be opened, with why: said once (warning), then
    /// tried again quietly at each decision (the port may have been freed).
    private var refused: [ListenAddress: String] = [:]

    init(namespace: NetworkNamespace, logger: Logger, hub: EventHub) {
        self.namespace = namespace
        self.logger = logger
        self.hub = hub
    }

    deinit { closeAll() }

    /// Brings the held listeners to what `connections` need, given the
    /// namespace's listeners `found` (which include ours), and returns the
    /// listeners a join can reach: the others and ours.
    func update(_ context: ConnectionEngine.Context, connections: [ConnectionView], found: [Listener]) -> [Listener] {
        let others = found.filter { l in !held.keys.contains { $0.address == l.address && $0.port == l.port } }
        let wanted = AnnouncementListeners.wanted(context, connections: connections, others: others)
        closeAll(except: wanted)
        for w in wanted.sorted() where held[w] == nil {
            do {
                held[w] = try MPTCPListener(address: w.address, port: w.port, namespace: namespace)
                refused[w] = nil
                logger.info("listening for joins to an announced address", metadata: ["address": "\(w)"])
                hub.publish(.announcementListener("listener_opened", address: "\(w)"))
            } catch {
                if refused.updateValue(error.description, forKey: w) == nil {
                    logger.warning("cannot listen for joins to an announced address", metadata: [
                        "address": "\(w)", "error": "\(error)",
                    ])
                    hub.publish(.announcementListener("listener_failed", address: "\(w)", error: error.description))
                }
            }
        }
        for listener in held.values { listener.refuseQueuedConnections() }
        return others + held.keys.sorted().map {
            Listener(address: $0.address, port: $0.port, family: $0.address.isIPv4 ? .ipv4 : .ipv6, v6only: true)
        }
    }

    /// Closes the listeners no connection needs any more (no I/O beyond the
    /// closes: whether another listener took over is left to the next `update`).
    /// `connections` is only evaluated when a listener is held or was refused.
    func release(_ context: ConnectionEngine.Context, connections: @autoclosure () -> [ConnectionView]) {
        guard !held.isEmpty || !refused.isEmpty else { return }
        let needed = AnnouncementListeners.wanted(context, connections: connections(), others: [])
        closeAll(except: needed)
        refused = refused.filter { needed.contains($0.key) }
    }

    private func closeAll(except keep: Set<ListenAddress> = []) {
        for (address, listener) in held where !keep.contains(address) {
            listener.close()
            held[address] = nil
            logger.info("stopped listening for joins to an announced address", metadata: ["address": "\(address)"])
            hub.publish(.announcementListener("listener_closed", address: "\(address)"))
        }
    }
}
