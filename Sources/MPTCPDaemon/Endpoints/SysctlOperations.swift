import MPTCPKit

/// The namespace-wide MPTCP sysctls the reconciler reads, sets and gives back:
/// path manager and packet scheduler. `MPTCPSysctl` adopts it; tests answer it
/// with the fake kernel.
protocol SysctlOperations: Sendable {
    /// `net.mptcp.path_manager` (or what `pm_type` says on older kernels).
    func pathManager() throws -> String
    /// Selects the path manager for connections created from now on.
    func setPathManager(_ name: String) throws
    /// `net.mptcp.scheduler`.
    func scheduler() throws -> String
    /// Selects the packet scheduler for sockets created from now on.
    func setScheduler(_ name: String) throws
}

extension MPTCPSysctl: SysctlOperations {}
