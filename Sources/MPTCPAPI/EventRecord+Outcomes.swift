/// The daemon's events for what went otherwise than asked, and for what its
/// hooks did: refusals, failures and retries of the userspace path manager,
/// announcements withheld, the listeners held for announcements, re-examinations
/// requested through `interface.notify`, and hook runs. Each says in its fields
/// what the daemon's log line for the same fact says (the log line stays: admins
/// read it), so tests and tools watch the `subscribe` stream instead of the log.
/// Fields are listed in `mptcpctld(8)`, SUBSCRIBE.
extension EventRecord {
    // MARK: - Userspace path manager

    /// A subflow failed (its join closed with an error, or timed out: `error` is
    /// then `join timed out` and `timeout_ms` the policy's `retry.join_timeout`)
    /// and is tried again in `retry_in_ms` (its `attempt`-th failure).
    public static func subflowFailed(token: String, local: String, remote: String, error: String, attempt: Int,
                                     retryInMilliseconds: Int, timeoutMilliseconds: Int?) -> EventRecord {
        var f: [String: JSONValue] = [
            "token": .string(token), "local": .string(local), "remote": .string(remote), "error": .string(error),
            "attempt": .integer(Int64(attempt)), "retry_in_ms": .integer(Int64(retryInMilliseconds)),
        ]
        if let timeoutMilliseconds { f["timeout_ms"] = .integer(Int64(timeoutMilliseconds)) }
        return EventRecord(.action, "subflow_failed", f)
    }

    /// The kernel refused a command on a connection that still exists:
    /// `type` is `subflow_destroy_refused`, `announcement_refused` or
    /// `priority_change_refused`; `fields` name the subflow or address; `error`
    /// is the kernel's answer.
    public static func commandRefused(_ type: String, token: String, error: String,
                                      _ fields: [String: JSONValue]) -> EventRecord {
        var f = fields
        f["token"] = .string(token)
        f["error"] = .string(error)
        return EventRecord(.action, type, f)
    }

    /// The policy would announce `address` (`ADDRESS:PORT`) on the connection but may not (the
    /// tracker's `reason`); `repeated` when it was said before for this
    /// connection and address (the log says it once as a warning, then in debug).
    public static func announcementWithheld(token: String, address: String, reason: String, repeated: Bool) -> EventRecord {
        EventRecord(.action, "announcement_withheld", [
            "token": .string(token), "address": .string(address), "reason": .string(reason), "repeated": .bool(repeated),
        ])
    }

    /// A connection turned out gone (the kernel no longer knows its token) `while`
    /// the daemon was `creating subflows` or `acting on it`: forgotten, nothing retried.
    public static func connectionGone(token: String, while doing: String) -> EventRecord {
        EventRecord(.action, "connection_gone", ["token": .string(token), "while": .string(doing)])
    }

    /// A connection adopted before MPTCP was fully established (the kernel refused
    /// its subflows with ENOTCONN): they are asked for at its ESTABLISHED event, no failure counted.
    public static func notYetEstablished(token: String) -> EventRecord {
        EventRecord(.action, "not_yet_established", ["token": .string(token)])
    }

    /// The daemon opened (`listener_opened`) or closed (`listener_closed`) the
    /// MPTCP listener at `address` (`ADDRESS:PORT`, `[ADDRESS]:PORT` for IPv6)
    /// that takes joins to an address it announces, or could not open it
    /// (`listener_failed`, with `error`; said once until it opens or is no longer wanted).
    public static func announcementListener(_ type: String, address: String, error: String? = nil) -> EventRecord {
        var f: [String: JSONValue] = ["address": .string(address)]
        if let error { f["error"] = .string(error) }
        return EventRecord(.action, type, f)
    }

    // MARK: - Endpoints

    /// What the reconciler found rather than did: `endpoints_adopted` (at start-up,
    /// the endpoints an earlier run recorded as its own), `endpoints_forgotten`
    /// (recorded as its own but gone from the kernel), `endpoint_record_unreadable`
    /// (the ownership record was set aside: what it listed is treated as foreign);
    /// `endpoints` lists them as `ID:ADDRESS`.
    public static func endpointRecord(_ type: String, endpoints: [String], _ details: [String: JSONValue] = [:]) -> EventRecord {
        var f = details
        f["endpoints"] = .array(endpoints.map { .string($0) })
        f["count"] = .integer(Int64(endpoints.count))
        return EventRecord(.action, type, f)
    }

    /// What becomes of refused endpoint changes: `endpoint_retry_scheduled` (a pass
    /// had refusals: the next in `in_ms`, its `attempt`), `endpoint_retries_exhausted`
    /// (`failed_passes`: no retry until the network or the policy changes, or the
    /// next resync), `endpoint_refusal_cleared` (a refused `change` no longer
    /// planned, after `refusals` refusals: nothing is left to retry).
    public static func endpointRetry(_ type: String, _ fields: [String: JSONValue]) -> EventRecord {
        EventRecord(.action, type, fields)
    }

    /// An endpoint the daemon did not make, left alone (said when it appears).
    public static func foreignEndpoint(id: UInt8, address: String, flags: String) -> EventRecord {
        EventRecord(.action, "foreign_endpoint", ["id": .integer(Int64(id)), "address": .string(address), "flags": .string(flags)])
    }

    /// A warning of the endpoint plan (an address held by a foreign endpoint, the
    /// 8-endpoint cap leaving addresses out…), in the log's words (said when it appears).
    public static func endpointWarning(_ message: String) -> EventRecord {
        EventRecord(.action, "endpoint_warning", ["message": .string(message)])
    }

    // MARK: - Interfaces

    /// `interface.notify` asked the daemon to re-examine `interface` (every
    /// interface when nil), for the dispatcher's `action` when given.
    public static func interfaceNotified(interface: String?, action: String?) -> EventRecord {
        var f: [String: JSONValue] = [:]
        if let interface { f["interface"] = .string(interface) }
        if let action { f["action"] = .string(action) }
        return EventRecord(.interface, "notified", f)
    }

    // MARK: - Hooks

    /// Hooks run from `directory` (`enabled`, at start-up or the reload that made
    /// the directory appear), or no longer (`disabled`: the directory is gone at a reload).
    public static func hooks(enabled: Bool, directory: String, timeout: Int, maxConcurrent: Int) -> EventRecord {
        enabled
            ? EventRecord(.hook, "enabled", ["directory": .string(directory), "timeout": .integer(Int64(timeout)),
                                             "max_concurrent": .integer(Int64(maxConcurrent))])
            : EventRecord(.hook, "disabled", ["directory": .string(directory)])
    }

    /// What became of a hook's run for the hook event `event`: `timed_out` (its
    /// `timeout` passed: SIGTERM to its process group, SIGKILL a second later),
    /// and how it ended: `ran` (exit 0), `failed` (with `exit_code` or `signal`),
    /// `killed` (ended after its timeout), `not_started` (with `error`); `output`
    /// is the first KiB it wrote, `output_bytes` how much it wrote when that was more.
    public static func hookRun(_ type: String, hook: String, event: String, pid: Int32?,
                               _ details: [String: JSONValue] = [:]) -> EventRecord {
        var f = details
        f["hook"] = .string(hook)
        f["event"] = .string(event)
        if let pid { f["pid"] = .integer(Int64(pid)) }
        return EventRecord(.hook, type, f)
    }
}
