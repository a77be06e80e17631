import Logging
import MPTCPKit
import ServiceLifecycle
import UnixSignals

/// The daemon as a service of the service group: hands everything that blocks
/// to the endpoint thread, turns SIGHUP into a reload, and at graceful shutdown
/// has that thread stop and apply `on_exit`.
///
/// Thread map (who owns what, who talks to whom):
/// - `mptcpctld-endp`, the endpoint thread (`EndpointLoop`): owns the
///   reconciler, the ownership record, the retry and resync deadlines; makes
///   every blocking endpoint, sysctl and rtnetlink-dump request; starts and
///   stops the threads below; applies `on_exit`. Woken by its `Doorbell`, or
///   by its next deadline.
/// - `mptcpctld-link` (`NetworkWatcher`): reads rtnetlink notifications, rings
///   the doorbell (`network`, `lost`).
/// - `mptcpctld-event` (`EventWatcher`): reads MPTCP events and publishes them.
///   Under the userspace path manager it alone owns the `ConnectionManager`
///   and its tracker (no lock): it polls the event socket together with the
///   manager's `Mailbox`, with the tracker's next wake-up as poll timeout, and
///   runs there the network snapshots, reloads and resyncs the endpoint thread
///   posts and the API's requests (each caller waits for its message to run).
///   Under the in-kernel one it owns the `LostSubflowReporter` (its log budget).
/// - `mptcpctld-hooks` (`HookRunner`): takes events from the hub, runs hooks.
/// - The control server's NIO event loop (one thread) answers cheap methods and
///   subscriptions; its one `NIOThreadPool` worker runs the requests that touch
///   the kernel, in order. Both read the `PolicyStore` and `DaemonState`, and
///   ring `network` or `reload`. The metrics server shares that design.
/// - Swift's cooperative pool runs no blocking call: this service (SIGHUP rings
///   `reload`; graceful shutdown rings `stop` and awaits the endpoint thread's
///   end) and the service group.
/// - Shared state, each with one writer: `PolicyStore` (the policy; written by
///   the endpoint thread's reload), `DaemonState` (owned endpoints, the
///   manager; written by the endpoint thread), `EventHub` (published by all,
///   read by subscribers and the hook runner).
struct DaemonService: Service, CustomStringConvertible {
    var description: String { "mptcpctld" }

    let loop: EndpointLoop
    let logger: Logger

    func run() async throws {
        let thread = OwnedThread(name: "mptcpctld-endp")
        let loop = self.loop
        try await withCheckedThrowingContinuation { (started: CheckedContinuation<Void, any Error>) in
            let ok = thread.start {
                loop.run { started.resume(with: $0) }
            }
            if !ok { started.resume(throwing: StoreError("cannot start the endpoint thread")) }
        }
        let doorbell = loop.doorbell
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) { doorbell.ring(.reload) }
            }
            try? await gracefulShutdown()
            doorbell.ring(.stop)
            await thread.finished()
            group.cancelAll()
        }
    }
}
