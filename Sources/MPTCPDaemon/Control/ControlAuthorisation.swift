import MPTCPAPI
#if canImport(Glibc)
import Glibc
#endif

/// Who may call the mutating methods: root, and members of `[daemon]
/// admin_group` (primary or supplementary group, from the user database).
struct ControlAuthorisation: Sendable {
    /// `[daemon] admin_group`, resolved at start-up.
    var adminGroup: UInt32?
    /// The supplementary groups of a user (`getgrouplist`; replaced in tests).
    var groups: @Sendable (_ uid: UInt32, _ gid: UInt32) -> [UInt32] = supplementaryGroups

    /// nil when `peer` may call the mutating method `method`, else the refusal.
    func check(_ method: String, peer: ControlPeer) -> RPCError? {
        if isAdmin(peer) { return nil }
        return .permissionDenied("\(method) changes the daemon's state: it needs root"
            + (adminGroup == nil ? "" : " or membership of daemon.admin_group") + " (you are uid \(peer.uid))")
    }

    func isAdmin(_ peer: ControlPeer) -> Bool {
        if peer.uid == 0 { return true }
        guard let adminGroup else { return false }
        if peer.gid == adminGroup { return true }
        return groups(peer.uid, peer.gid).contains(adminGroup)
    }
}

/// The supplementary groups of `uid` from the user database (`getgrouplist`).
private func supplementaryGroups(uid: UInt32, gid: UInt32) -> [UInt32] {
    var pw = passwd()
    var result: UnsafeMutablePointer<passwd>?
    var buffer = [CChar](repeating: 0, count: 4096)
    guard getpwuid_r(uid, &pw, &buffer, buffer.count, &result) == 0, result != nil, let name = pw.pw_name else { return [] }
    var count: Int32 = 64
    var groups = [gid_t](repeating: 0, count: 64)
    if getgrouplist(name, gid, &groups, &count) < 0 {
        groups = [gid_t](repeating: 0, count: Int(count))
        guard getgrouplist(name, gid, &groups, &count) >= 0 else { return [] }
    }
    return Array(groups.prefix(Int(count)))
}
