import FoundationEssentials
import MPTCPKit
import MPTCPPolicy

/// The daemon's sockets into one namespace: genl requests, rtnetlink dumps and
/// the sysctls. `network` (no lock of its own) and the sysctls are used by the
/// endpoint thread alone (or the one-shot `--plan`); `pathManager` is shared by
/// the endpoint thread (the reconciler) and the MPTCP event thread (the
/// userspace path manager), which is safe because `PathManager` serialises
/// its requests with a lock of its own. The reconciler reaches it only
/// through `endpointKernel`'s protocols.
final class KernelHandle: @unchecked Sendable {
    let namespace: NetworkNamespace
    let pathManager: PathManager
    let network: NetworkReader
    let sysctl: MPTCPSysctl
    /// Rules and routes (rtnetlink), used like `network`.
    let routingTables: RoutingTables

    init(namespace: NetworkNamespace) throws {
        self.namespace = namespace
        pathManager = try PathManager(namespace: namespace)
        network = try NetworkReader(namespace: namespace)
        sysctl = MPTCPSysctl(namespace: namespace)
        routingTables = try RoutingTables(namespace: namespace)
    }

    /// What the kernel offers, or nil when the sysctls cannot be read; with the
    /// namespace's rules and routes when they can be read (`routing.priorities`
    /// must not hold rules others made).
    static func offer(namespace: NetworkNamespace) -> KernelOffer? {
        let sysctl = MPTCPSysctl(namespace: namespace)
        guard let schedulers = try? sysctl.availableSchedulers(),
              let managers = try? sysctl.availablePathManagers() else { return nil }
        let network = try? NetworkSnapshot.read(namespace: namespace)
        return KernelOffer(pathManagers: managers, schedulers: schedulers, rules: network?.rules, routes: network?.routes)
    }

    /// The routing side of this handle, through the protocols the routing owner takes.
    var routingKernel: RoutingKernel {
        RoutingKernel(routing: routingTables, reversePathFilter: sysctl)
    }

    /// The endpoint side of this handle, through the protocols the reconciler takes.
    var endpointKernel: EndpointKernel {
        EndpointKernel(endpoints: pathManager, network: network, sysctl: sysctl)
    }
}
