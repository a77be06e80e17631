import MPTCPKit
import MPTCPPolicy

/// What the reconciler reaches of the kernel, through protocols: the endpoint
/// table and limits, the links and addresses, the MPTCP sysctls. The daemon
/// builds it from a `KernelHandle`; unit tests from a fake kernel. Used by one
/// caller at a time (the reconciler's owner serialises every call).
struct EndpointKernel: @unchecked Sendable {
    let endpoints: any EndpointOperations
    let network: any NetworkSnapshotSource
    let sysctl: any SysctlOperations

    /// Path manager, scheduler and limits, read now.
    func settings() throws -> KernelSettingsSnapshot {
        KernelSettingsSnapshot(pathManager: try sysctl.pathManager(), scheduler: try sysctl.scheduler(),
                               limits: try endpoints.limits())
    }

    /// Everything the planner needs, read now, planned.
    /// `snapshot`: links and addresses the caller has just read (else read here);
    /// `health`: the paths' health, which steers; `rebuild`: the healed paths
    /// whose endpoints are replaced, `holdBack` the addresses so deleted and not
    /// to be added yet (`Planner.plan`).
    func observe(owned: Set<OwnedEndpoint>, policy: Policy, network snapshot: NetworkSnapshot? = nil,
                 health: PathHealthView = .none, rebuild: Set<PathKey> = [], holdBack: Set<IPAddress> = []) throws -> EndpointPlan {
        let snapshot = try snapshot ?? network.read()
        let endpoints = try endpoints.endpoints()
        return Planner.plan(policy: policy, network: snapshot, endpoints: endpoints, owned: owned, health: health, rebuild: rebuild,
                            holdBack: holdBack)
    }

    /// Applies one namespace-wide setting.
    func apply(_ change: SettingChange) throws {
        switch change {
        case .pathManager(_, let to): try sysctl.setPathManager(to)
        case .scheduler(_, let to): try sysctl.setScheduler(to)
        case .limits(_, let to): try endpoints.setLimits(subflows: to.subflows, addAddrAccepted: to.addAddrAccepted)
        }
    }
}
