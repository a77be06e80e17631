import Logging
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy

/// Sending what the tracker decided, settling each answer, and saying what was done.
extension ConnectionManager {
    /// Logs, counts and publishes what a decision noted (before its commands are sent).
    func report(_ d: ConnectionTracker.Decided) {
        let token = d.token
        for refusal in d.refusedAnnouncements {
            let metadata: Logger.Metadata = ["token": "\(formatToken(token))", "address": "\(refusal.address)", "reason": "\(refusal.reason)"]
            if refusal.firstTime {
                logger.warning("not announcing an address", metadata: metadata)
            } else {
                logger.debug("not announcing an address", metadata: metadata)
            }
            count("announcements_refused")
            hub.publish(.announcementWithheld(token: formatToken(token), address: "\(refusal.address)",
                                              reason: refusal.reason, repeated: !refusal.firstTime))
        }
        for timeout in d.joinTimeouts {
            // A failure like a refused join: counted, logged with its attempt and backoff.
            count("joins_timed_out")
            reportFailure(timeout)
        }
        logger.trace("decided", metadata: ["token": "\(formatToken(token))", "side": "\(d.side)",
                                           "policy": "\(d.policy.name)", "actions": "\(d.actionCount)"])
        for event in d.events {
            logger.notice("\(event)", metadata: ["token": "\(formatToken(token))", "policy": "\(d.policy.name)"])
            let type = event.hasPrefix("promoted") ? "promoted" : event.hasPrefix("demoted") ? "demoted" : "handover"
            count(type == "promoted" ? "promotions" : type == "demoted" ? "demotions" : "handovers")
            hub.publish(DaemonEvent(.action, type, ["token": .string(formatToken(token)), "policy": .string(d.policy.name),
                                                    "reason": .string(event)]))
        }
    }

    /// A subflow failed (its join closed with an error, or timed out) and backs off.
    func reportFailure(_ f: SubflowFailureNote) {
        count("subflows_failed")
        var metadata: Logger.Metadata = [
            "token": "\(formatToken(f.token))", "local": "\(f.local)", "remote": "\(f.remote)", "error": "\(f.error)",
            "attempt": "\(f.attempt)", "retry_in_ms": "\(f.retryInMilliseconds)",
        ]
        if let timeout = f.timeoutMilliseconds { metadata["timeout_ms"] = "\(timeout)" }
        logger.info("subflow failed", metadata: metadata)
        hub.publish(.subflowFailed(token: formatToken(f.token), local: f.local, remote: f.remote, error: f.error, attempt: f.attempt,
                                   retryInMilliseconds: f.retryInMilliseconds, timeoutMilliseconds: f.timeoutMilliseconds))
    }

    /// Sends a decision's commands in order (creations wait for `flushCreates`),
    /// settling each; stops when the connection turns out gone.
    func execute(_ d: ConnectionTracker.Decided) {
        for planned in d.commands {
            let settlement: ConnectionTracker.Settlement
            switch planned.action {
            case .create: continue
            case .destroy(let s, let reason): settlement = destroy(planned, s, reason: reason)
            case .removeAddress(let id, let address, let subflows, let reason):
                settlement = withdraw(planned, id: id, address: address, subflows: subflows, reason: reason)
            case .announce(let id, let address, let port, let index, let reason):
                settlement = announce(planned, id: id, address: address, port: port, index: index, reason: reason)
            case .setBackup(let s, let backup, let reason): settlement = setBackup(planned, s, backup: backup, reason: reason)
            }
            if settlement == .forgotten {
                count("connections_gone")
                logger.debug("connection gone", metadata: ["token": "\(formatToken(d.token))", "while": "acting on it"])
                hub.publish(.connectionGone(token: formatToken(d.token), while: "acting on it"))
                return
            }
        }
    }

    private func outcome(_ body: () throws(MPTCPError) -> Void) -> (CommandOutcome, MPTCPError?) {
        do throws(MPTCPError) { try body(); return (.sent, nil) } catch { return (CommandOutcome(error), error) }
    }

    private func destroy(_ planned: PlannedAction, _ s: SubflowView, reason: String) -> ConnectionTracker.Settlement {
        let token = planned.token
        let (result, error) = outcome { () throws(MPTCPError) in try kernel.destroySubflow(token: token, local: s.local, remote: s.remote) }
        let settlement = tracker.settle(planned, result, now: now)
        guard settlement == .kept else { return settlement }
        if let error {
            if error.isNoSuchSubflow {
                logger.debug("subflow already gone", metadata: ["token": "\(formatToken(token))", "error": "\(error)"])
            } else {
                logger.warning("kernel refused to destroy a subflow", metadata: [
                    "token": "\(formatToken(token))", "local": "\(s.local)", "remote": "\(s.remote)", "error": "\(error)",
                ])
                hub.publish(.commandRefused("subflow_destroy_refused", token: formatToken(token), error: error.description,
                                            Self.fields(of: s)))
            }
            return settlement
        }
        logger.info("destroyed subflow", metadata: [
            "token": "\(formatToken(token))", "local": "\(s.local)", "remote": "\(s.remote)", "reason": "\(reason)",
        ])
        publishAction("subflow_destroyed", token, planned.policy, reason, Self.fields(of: s))
        return settlement
    }

    /// RM_ADDR travels over a surviving subflow so the peer stops using the dead
    /// path at once; the local subflows are closed explicitly (REMOVE alone leaves
    /// them established on 6.18).
    private func withdraw(_ planned: PlannedAction, id: UInt8, address: IPAddress, subflows: [SubflowView],
                          reason: String) -> ConnectionTracker.Settlement {
        let token = planned.token
        let (removed, error) = outcome { () throws(MPTCPError) in try kernel.remove(token: token, localID: id) }
        if removed == .connectionGone { return tracker.settle(planned, removed, now: now) }
        if let error {
            logger.debug("nothing to withdraw", metadata: ["token": "\(formatToken(token))", "local_id": "\(id)", "error": "\(error)"])
        } else {
            count("addresses_withdrawn")
        }
        var outcomes: [CommandOutcome] = []
        for s in subflows {
            let (o, error) = outcome { () throws(MPTCPError) in try kernel.destroySubflow(token: token, local: s.local, remote: s.remote) }
            outcomes.append(o)
            if o == .connectionGone { break }
            guard let error else { continue }
            if error.isNoSuchSubflow {
                // Closed with its address (or before): its SUB_CLOSED may still be queued.
                logger.debug("subflow already gone", metadata: ["token": "\(formatToken(token))", "local": "\(s.local)", "error": "\(error)"])
            } else {
                logger.warning("kernel refused to destroy a subflow", metadata: [
                    "token": "\(formatToken(token))", "local": "\(s.local)", "remote": "\(s.remote)", "error": "\(error)",
                ])
                hub.publish(.commandRefused("subflow_destroy_refused", token: formatToken(token), error: error.description,
                                            Self.fields(of: s)))
            }
        }
        let settlement = tracker.settle(planned, removed, subflowOutcomes: outcomes, now: now)
        guard settlement == .kept else { return settlement }
        logger.info("withdrew address", metadata: [
            "token": "\(formatToken(token))", "address": "\(address)", "local_id": "\(id)",
            "subflows": "\(subflows.count)", "reason": "\(reason)",
        ])
        publishAction("address_withdrawn", token, planned.policy, reason, [
            "local_address": .string(address.description), "local_id": .integer(Int64(id)),
        ])
        return settlement
    }

    private func announce(_ planned: PlannedAction, id: UInt8, address: IPAddress, port: UInt16, index: Int32,
                          reason: String) -> ConnectionTracker.Settlement {
        let token = planned.token
        let endpoint = Endpoint(id: id, address: address, port: port, flags: .signal, interfaceIndex: index)
        let (result, error) = outcome { () throws(MPTCPError) in try kernel.announce(token: token, address: endpoint) }
        let settlement = tracker.settle(planned, result, now: now)
        guard settlement == .kept else { return settlement }
        if let error {
            logger.warning("kernel refused an announcement", metadata: [
                "token": "\(formatToken(token))", "address": "\(address)", "local_id": "\(id)", "error": "\(error)",
            ])
            hub.publish(.commandRefused("announcement_refused", token: formatToken(token), error: error.description, [
                "local_address": .string(address.description), "local_id": .integer(Int64(id)),
            ]))
            return settlement
        }
        count("addresses_announced")
        logger.debug("announced address", metadata: [
            "token": "\(formatToken(token))", "address": "\(address)", "local_id": "\(id)", "reason": "\(reason)",
        ])
        publishAction("address_announced", token, planned.policy, reason, [
            "local_address": .string(address.description), "local_id": .integer(Int64(id)),
        ])
        return settlement
    }

    private func setBackup(_ planned: PlannedAction, _ s: SubflowView, backup: Bool, reason: String) -> ConnectionTracker.Settlement {
        let token = planned.token
        let (result, error) = outcome { () throws(MPTCPError) in
            try kernel.setSubflowBackup(token: token, local: s.local, remote: s.remote, backup: backup)
        }
        let settlement = tracker.settle(planned, result, now: now)
        guard settlement == .kept else { return settlement }
        if let error {
            count("priority_changes_refused")
            logger.warning("kernel refused a priority change", metadata: [
                "token": "\(formatToken(token))", "local": "\(s.local)", "backup": "\(backup)", "error": "\(error)",
            ])
            hub.publish(.commandRefused("priority_change_refused", token: formatToken(token), error: error.description,
                                        Self.fields(of: s).merging(["backup": .bool(backup)]) { $1 }))
            return settlement
        }
        logger.info("set subflow priority", metadata: [
            "token": "\(formatToken(token))", "local": "\(s.local)", "backup": "\(backup)", "reason": "\(reason)",
        ])
        publishAction("subflow_priority_set", token, planned.policy, reason,
                      Self.fields(of: s).merging(["backup": .bool(backup)]) { $1 })
        return settlement
    }

    /// A subflow's addresses and ports, as its action events carry them.
    static func fields(of s: SubflowView) -> [String: JSONValue] {
        ["local_address": .string(s.local.address.description), "local_port": .integer(Int64(s.local.port)),
         "remote_address": .string(s.remote.address.description), "remote_port": .integer(Int64(s.remote.port))]
    }

    /// Publishes what was done to `token` and why (nothing to build without subscribers).
    func publishAction(_ type: String, _ token: UInt32, _ policy: ConnectionPolicy, _ reason: String,
                       _ fields: @autoclosure () -> [String: JSONValue]) {
        guard hub.isObserved else { return }
        var f = fields()
        f["token"] = .string(formatToken(token))
        f["policy"] = .string(policy.name)
        f["reason"] = .string(reason)
        hub.publish(DaemonEvent(.action, type, f))
    }
}
