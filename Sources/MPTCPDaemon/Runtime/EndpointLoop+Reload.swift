import FoundationEssentials
import Logging
import MPTCPPolicy

/// SIGHUP and `policy.reload`, on the endpoint thread.
extension EndpointLoop {
    /// A valid file replaces the policy (one write to the store, which every
    /// reader sees at once); an invalid one is logged and ignored.
    func reload() {
        SystemdNotify.send("RELOADING=1")
        switch PolicyFile.load(path: configPath, namespace: namespace) {
        case .success(let checked):
            let policy = checked.policy
            for w in checked.warnings { logger.warning("\(w.formatted(file: configPath))") }
            let old = policies.current
            noteWhatTakesEffectAtTheNextStart(old: old, new: policy)
            let changes = policyDifferences(from: old, to: policy)
            policies.replace(with: policy)
            reconciler.policyReplaced()
            hooks?.configure(policy.hooks)
            logger.notice("reloaded the policy", metadata: ["config": "\(configPath)", "interfaces": "\(policy.interfaces.count)",
                                                            "changes": "\(changes.count)"])
            hub.publish(DaemonEvent(.policy, "reloaded", [
                "config": .string(configPath), "changes": .integer(Int64(changes.count)),
                "changed_keys": .array(changes.map { .string($0.key) }), "interfaces": .integer(Int64(policy.interfaces.count)),
            ]))
            _ = reconciler.applySettings(logFound: false)
        case .failure(let problems):
            for line in problems.lines {
                logger.error("reload refused, keeping the running policy", metadata: ["problem": "\(line)"])
            }
            hub.publish(DaemonEvent(.policy, "reload_refused", [
                "config": .string(configPath), "problems": .string(problems.lines.joined(separator: "\n")),
            ]))
        }
    }

    /// The keys read at start-up only: said once per reload that changes them.
    private func noteWhatTakesEffectAtTheNextStart(old: Policy, new policy: Policy) {
        if policy.daemon.stateDirectory != old.daemon.stateDirectory || policy.daemon.logLevel != old.daemon.logLevel {
            logger.notice("daemon.state_directory and daemon.log_level take effect at the next start")
        }
        if policy.daemon.eventBuffer != old.daemon.eventBuffer {
            logger.notice("daemon.event_buffer takes effect at the next start")
        }
        if (policy.kernel.pathManager == "userspace") != (old.kernel.pathManager == "userspace") {
            // Connection management (the event socket, adoption) is set up at start-up only.
            logger.warning("a change of kernel.path_manager to or from \"userspace\" takes full effect at the next start: restart mptcpctld",
                           metadata: ["running": "\(old.kernel.pathManager ?? "keep")", "file": "\(policy.kernel.pathManager ?? "keep")"])
        }
        if policy.metrics != old.metrics {
            logger.notice("metrics.listen takes effect at the next start")
        }
    }
}
