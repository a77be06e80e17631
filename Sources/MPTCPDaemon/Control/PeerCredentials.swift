import FoundationEssentials
import Glibc
import Logging
import MPTCPAPI
import MPTCPKit
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// `struct ucred`, which glibc declares only with _GNU_SOURCE (hidden from
/// Swift's Glibc module): same layout, read with `SO_PEERCRED` (17 on Linux).
struct PeerCredentials: Sendable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32

    static let option: Int32 = 17
}
