import MPTCPKit
import MPTCPPolicy

/// The health thread, seen from the endpoint thread: started with the other
/// threads, handed the paths to judge after each pass, stopped first at exit.
extension EndpointLoop {
    /// Starts `mptcpctld-health`. A failure is logged and the daemon runs
    /// without path health (every path counts as healthy), never stops.
    func startHealth() {
        guard let thread = HealthThread(namespace: namespace, hub: hub, doorbell: doorbell, board: health, logger: logger) else { return }
        guard !FaultInjection.failHealthThread, thread.start() else {
            logger.error("cannot start the path health thread; running without path health (every path counts as healthy)")
            return
        }
        health.setRunning(true)
        healthThread = thread
        state.update { [health] in $0.health = health }
        handPathsToHealth(network: lastNetwork)
    }

    /// The paths of this pass to the health thread (`ProbePlan`); a pass that
    /// could not read the network hands nothing, the last paths stay judged.
    func handPathsToHealth(network: NetworkSnapshot?) {
        guard let healthThread, let network else { return }
        healthThread.handOver(ProbePlan.paths(policy: policies.current, network: network))
    }

    /// Joins the health thread and closes its sockets.
    func stopHealth() {
        guard let thread = healthThread else { return }
        thread.join()
        thread.finish()
        healthThread = nil
        state.update { $0.health = nil }
    }
}
