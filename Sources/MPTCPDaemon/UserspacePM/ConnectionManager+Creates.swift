import Logging
import MPTCPAPI
import MPTCPKit
import MPTCPPolicy

extension ConnectionManager {
    /// Sends the creations the decisions queued (one datagram per 64), settles
    /// each answer in the tracker, and says what became of each.
    func flushCreates() {
        let queued = tracker.takeCreates()
        guard !queued.isEmpty else { return }
        // Tests close a connection between the decision and the command here.
        FaultInjection.pause(before: "creating subflows", logger: logger, [
            "tokens": "\(Set(queued.map { formatToken($0.token) }).sorted().joined(separator: ","))",
            "subflows": "\(queued.count)",
        ])
        count("create_batches")
        let before = threadCPUNanoseconds()
        let results: [Result<Void, MPTCPError>]
        do throws(MPTCPError) { results = try kernel.createSubflows(queued.map(Self.request)) } catch {
            // The socket failed: whether the kernel acted is unknown. Each counts as
            // refused and is retried; the events say what exists meanwhile.
            results = Array(repeating: .failure(error), count: queued.count)
        }
        createNanoseconds &+= threadCPUNanoseconds() &- before
        for settled in tracker.settle(creates: queued, results.map(CommandOutcome.init), now: now) {
            report(settled)
        }
    }

    /// The kernel request of a decided creation.
    static func request(_ q: PendingCreate) -> PathManager.SubflowRequest {
        let local = Endpoint(id: q.localID, address: q.slot.local, flags: q.backup ? .backup : [], interfaceIndex: q.interfaceIndex)
        return PathManager.SubflowRequest(token: q.token, local: local, remote: q.remote)
    }

    private func report(_ settled: ConnectionTracker.SettledCreate) {
        let q = settled.create
        let token = formatToken(q.token)
        switch settled.outcome {
        case .sent:
            count("subflows_created")
            // One that failed (refused, closed, or its join timed out) and is asked for again.
            var retry: [String: JSONValue] = [:]
            if let f = q.previousFailure {
                count("subflows_recreated")
                logger.info("retrying subflow", metadata: [
                    "token": "\(token)", "local": "\(q.slot.local)", "remote": "\(q.remote)",
                    "retry": "\(f.attempts)", "of": "\(max(1, q.policy.retry.attempts))",
                ])
                retry = ["retry": .integer(Int64(f.attempts)), "retries": .integer(Int64(max(1, q.policy.retry.attempts)))]
            }
            logger.debug("creating subflow", metadata: [
                "token": "\(token)", "local": "\(q.slot.local)", "local_id": "\(q.localID)",
                "remote": "\(q.remote)", "backup": "\(q.backup)", "reason": "\(q.reason)",
            ])
            publishAction("subflow_requested", q.token, q.policy, q.reason, [
                "local_address": .string(q.slot.local.description), "local_id": .integer(Int64(q.localID)),
                "remote_address": .string(q.remote.address.description), "remote_port": .integer(Int64(q.remote.port)),
                "backup": .bool(q.backup),
            ].merging(retry) { $1 })
        case .notYetEstablished:
            count("adopted_before_established")
            logger.debug("not fully established yet: waiting for its event", metadata: ["token": "\(token)"])
            hub.publish(.notYetEstablished(token: token))
        case .otherPathManager(let error):
            logger.warning("a connection of the in-kernel path manager: left to it", metadata: [
                "token": "\(token)", "error": "\(error)",
            ])
        case .connectionGone:
            count("connections_gone")
            logger.debug("connection gone", metadata: ["token": "\(token)", "while": "creating subflows"])
            hub.publish(.connectionGone(token: token, while: "creating subflows"))
        case .refused(let error):
            logger.warning("kernel refused a subflow", metadata: [
                "token": "\(token)", "local": "\(q.slot.local)", "remote": "\(q.remote)", "error": "\(error)",
            ])
            publishAction("subflow_refused", q.token, q.policy, q.reason, [
                "local_address": .string(q.slot.local.description),
                "remote_address": .string(q.remote.address.description),
                "remote_port": .integer(Int64(q.remote.port)), "error": .string(error.description),
            ])
        }
    }
}
