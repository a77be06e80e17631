import FoundationEssentials
import Glibc
import Logging
import MPTCPAPI
import MPTCPKit
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The number of connected clients, shared by every connection's handler.
final class ClientCount: Sendable {
    private let count = Synchronization.Atomic<Int>(0)

    /// Counts a client in; false (and not counted) when `ControlServer.maxClients` are connected.
    func admit() -> Bool {
        while true {
            let n = count.load(ordering: .relaxed)
            guard n < ControlServer.maxClients else { return false }
            if count.compareExchange(expected: n, desired: n + 1, ordering: .relaxed).exchanged { return true }
        }
    }

    func leave() { count.subtract(1, ordering: .relaxed) }
}
