import FoundationEssentials
import MPTCPKit
import MPTCPPolicy

/// The daemon's sockets into one namespace: genl requests, rtnetlink dumps and
/// the sysctls. Used by one task at a time (the reconciler's loop, or the
/// one-shot `--plan`), which serialises every call.
final class KernelHandle: @unchecked Sendable {
    let namespace: NetworkNamespace
    let pathManager: PathManager
    let network: NetworkReader
    let sysctl: MPTCPSysctl

    init(namespace: NetworkNamespace) throws {
        self.namespace = namespace
        pathManager = try PathManager(namespace: namespace)
        network = try NetworkReader(namespace: namespace)
        sysctl = MPTCPSysctl(namespace: namespace)
    }

    /// What the kernel offers, or nil when the sysctls cannot be read.
    static func offer(namespace: NetworkNamespace) -> KernelOffer? {
        let sysctl = MPTCPSysctl(namespace: namespace)
        guard let schedulers = try? sysctl.availableSchedulers(),
              let managers = try? sysctl.availablePathManagers() else { return nil }
        return KernelOffer(pathManagers: managers, schedulers: schedulers)
    }

    func settings() throws -> KernelSettingsSnapshot {
        KernelSettingsSnapshot(pathManager: try sysctl.pathManager(), scheduler: try sysctl.scheduler(),
                               limits: try pathManager.limits())
    }

    /// Everything the planner needs, read now.
    /// `snapshot`: links and addresses the caller has just read (else read here).
    func observe(owned: Set<OwnedEndpoint>, policy: Policy, network snapshot: NetworkSnapshot? = nil) throws -> EndpointPlan {
        let snapshot = try snapshot ?? network.read()
        let endpoints = try pathManager.endpoints()
        return Planner.plan(policy: policy, network: snapshot, endpoints: endpoints, owned: owned)
    }

    /// Applies one namespace-wide setting.
    func apply(_ change: SettingChange) throws {
        switch change {
        case .pathManager(_, let to): try sysctl.setPathManager(to)
        case .scheduler(_, let to): try sysctl.setScheduler(to)
        case .limits(_, let to): try pathManager.setLimits(subflows: to.subflows, addAddrAccepted: to.addAddrAccepted)
        }
    }
}
