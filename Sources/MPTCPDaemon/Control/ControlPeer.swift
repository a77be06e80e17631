import NIOConcurrencyHelpers
import FoundationEssentials
import Glibc
import Logging
import Metrics
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy
import Prometheus
import Synchronization

/// Who is on the other end of a control connection (`SO_PEERCRED`).
struct ControlPeer: Sendable, Hashable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
}
