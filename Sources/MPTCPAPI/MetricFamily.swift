import MPTCPKit

/// One metric family the daemon exports: its `# HELP` text, its `# TYPE`, its
/// labels in the order samples show them, and the series that exist from
/// start-up at 0, so a dashboard can tell "none yet" from "not exported".
public struct MetricFamily: Hashable, Sendable {
    /// The Prometheus metric type.
    public enum MetricType: String, Sendable {
        case counter, gauge, histogram
    }

    public var name: String
    public var type: MetricType
    public var help: String
    /// Label names, in the order every sample of the family shows them.
    public var labels: [String]
    /// The label values of each series that exists from start-up, in `labels`'
    /// order; one empty list for a family without labels.
    public var series: [[String]]

    public init(_ name: String, _ type: MetricType, _ help: String, labels: [String] = [], series: [[String]]? = nil) {
        self.name = name
        self.type = type
        self.help = help
        self.labels = labels
        self.series = series ?? (labels.isEmpty ? [[]] : [])
    }
}

/// The metrics of `mptcpctld` (`mptcpctld(8)`, METRICS): every family it exports.
public enum DaemonMetrics {
    /// The userspace path manager's counters, `mptcpctld_pm_KEY_total`, as its
    /// statistics line names them (KEY), with what each counts.
    public static let pathManagerCounters: [(key: String, help: String)] = [
        ("addresses_announced", "Addresses announced to peers (ADD_ADDR) by the userspace path manager."),
        ("addresses_withdrawn", "Announced addresses withdrawn (RM_ADDR) by the userspace path manager."),
        ("adopted_before_established", "Connections adopted from sock_diag before MPTCP was fully established (their event awaited)."),
        ("announcements_refused", "Announcements not made because no MPTCP listener would accept a join there."),
        ("connections_gone", "Connections that closed before a command reached them."),
        ("create_batches", "Netlink datagrams of subflow-create requests sent (up to 64 requests each)."),
        ("demotions", "Connections whose active subflows became backup (backup steering)."),
        ("events_lost", "Times the kernel dropped MPTCP events (receive buffer overrun)."),
        ("joins_timed_out", "Subflow joins not established within retry.join_timeout, destroyed before a retry (also counted in subflows_failed)."),
        ("handovers", "Connections moved from one active path to another (backup steering)."),
        ("priority_changes_refused", "Subflow priority changes (MP_PRIO) the kernel refused."),
        ("promotions", "Connections whose backup subflows became active (backup steering)."),
        ("resyncs", "Resynchronisations of the connection table through sock_diag."),
        ("subflows_created", "Subflows requested from the kernel (SUBFLOW_CREATE accepted)."),
        ("subflows_established", "Subflows the kernel reported established (SUB_ESTABLISHED)."),
        ("subflows_failed", "Subflow attempts that failed (closed with an error before or while being established)."),
        ("subflows_recreated", "Subflows requested again after a failure or a close."),
    ]

    /// The families whose series are per judged path (labels `interface`,
    /// `family`): they exist once the health thread judges a path, not from start-up.
    public static let perPathFamilies: Set<String> = [
        "mptcpctld_path_transitions_total", "mptcpctld_path_state", "mptcpctld_probe_rtt_seconds",
        "mptcpctld_path_subflows", "mptcpctld_path_sent_bytes_total", "mptcpctld_path_acked_bytes_total",
        "mptcpctld_path_received_bytes_total", "mptcpctld_path_retransmits_total", "mptcpctld_path_rtt_seconds",
        "mptcpctld_path_backup",
    ]

    /// The traffic of each path (interface × family) from its subflows' `tcp_info`,
    /// computed at scrape time; a path's series exist from the first scrape that
    /// sees a subflow on it, and stay.
    public static let pathTrafficFamilies: [MetricFamily] = [
        MetricFamily("mptcpctld_path_subflows", .gauge,
                     "MPTCP subflows on a path now, by TCP state: established, joining (syn-sent, syn-recv), closing (any other).",
                     labels: ["interface", "family", "state"], series: []),
        MetricFamily("mptcpctld_path_sent_bytes_total", .counter,
                     "Bytes a path's subflows sent (tcpi_bytes_sent), retransmissions included.",
                     labels: ["interface", "family"], series: []),
        MetricFamily("mptcpctld_path_acked_bytes_total", .counter,
                     "Bytes a path's subflows delivered: acknowledged by the peer (tcpi_bytes_acked).",
                     labels: ["interface", "family"], series: []),
        MetricFamily("mptcpctld_path_received_bytes_total", .counter,
                     "Bytes a path's subflows received (tcpi_bytes_received).",
                     labels: ["interface", "family"], series: []),
        MetricFamily("mptcpctld_path_retransmits_total", .counter,
                     "Segments a path's subflows retransmitted (tcpi_total_retrans).",
                     labels: ["interface", "family"], series: []),
        MetricFamily("mptcpctld_path_rtt_seconds", .gauge,
                     "Smoothed RTT (srtt) of a path's established subflows now: min, mean, max (absent without one).",
                     labels: ["interface", "family", "stat"], series: []),
        MetricFamily("mptcpctld_path_backup", .gauge,
                     "1 when a path has established subflows and all are backup, else 0.",
                     labels: ["interface", "family"], series: []),
    ]

    /// `mptcpctld_netstat_MPTcpExt_FIELD_total` (a gauge without `_total` for
    /// `MPCurrEstab`, the one level among the kernel's counters).
    public static func netstatFamilyName(_ field: String) -> String {
        "mptcpctld_netstat_MPTcpExt_" + field + (MPTCPKernelCounters.isGauge(field) ? "" : "_total")
    }

    /// The family of one `MPTcpExt` field; `help` nil: a field this table does not know.
    public static func netstatFamily(_ field: String, help: String? = nil) -> MetricFamily {
        let what = help ?? "A counter of the kernel's MPTCP stack that this mptcpctld does not describe (see nstat)."
        return MetricFamily(netstatFamilyName(field), MPTCPKernelCounters.isGauge(field) ? .gauge : .counter,
                            "The kernel's MPTcpExt \(field) in the daemon's namespace (/proc/net/netstat): \(what)")
    }

    /// The per-connection families, exported only under `[metrics] per_connection`
    /// (a cap): labels `token` (8 hex digits) and `remote` (`ADDR:PORT`, IPv6 as `[ADDR]:PORT`).
    public static let connectionFamilies: [MetricFamily] = [
        MetricFamily("mptcpctld_connection_sent_bytes_total", .counter,
                     "Bytes an MPTCP connection sent at the MPTCP level (mptcp_info bytes_sent); the connections that moved the most bytes.",
                     labels: ["token", "remote"], series: []),
        MetricFamily("mptcpctld_connection_received_bytes_total", .counter,
                     "Bytes an MPTCP connection received at the MPTCP level (mptcp_info bytes_received).",
                     labels: ["token", "remote"], series: []),
        MetricFamily("mptcpctld_connection_subflows", .gauge,
                     "Established subflows of an MPTCP connection now.",
                     labels: ["token", "remote"], series: []),
    ]

    /// A sample line of `family`, label `values` in its declared order (escaped here).
    public static func sample(_ family: MetricFamily, _ values: [String], _ value: String) -> String {
        let labels = zip(family.labels, values).map { "\($0.0)=\"\(PrometheusText.escape($0.1))\"" }
        return family.name + (labels.isEmpty ? "" : "{" + labels.joined(separator: ",") + "}") + " " + value
    }

    /// Every family, for a daemon whose API has `methods`; sorted by name.
    public static func families(methods: [String]) -> [MetricFamily] {
        var all: [MetricFamily] = [
            MetricFamily("mptcpctld_api_requests_total", .counter,
                         "Control API requests answered, by method (unknown: no such method) and result (ok, or the error's code).",
                         labels: ["method", "result"], series: methods.sorted().map { [$0, "ok"] }),
            MetricFamily("mptcpctld_endpoint_changes_total", .counter,
                         "Endpoint changes the daemon asked the kernel for, by action and result (ok, or refused by the kernel).",
                         labels: ["action", "result"],
                         series: ["add", "delete", "set_flags"].flatMap { a in ["ok", "refused"].map { [a, $0] } }),
            MetricFamily("mptcpctld_endpoint_retries_exhausted_total", .counter,
                         "Series of refused endpoint changes given up after the last retry (until the network or policy changes)."),
            MetricFamily("mptcpctld_hook_events_dropped_total", .counter,
                         "Events whose hooks did not run because the hook queue was full."),
            MetricFamily("mptcpctld_hook_runs_total", .counter,
                         "Hooks run, by result (ok, failed, timeout, spawn_error).",
                         labels: ["result"], series: [["failed"], ["ok"], ["spawn_error"], ["timeout"]]),
            MetricFamily("mptcpctld_interface_notifications_lost_total", .counter,
                         "Times interface notifications (rtnetlink) were lost and everything was re-read."),
            MetricFamily("mptcpctld_kernel_events_total", .counter,
                         "MPTCP events read from the kernel, by type (the kernel's names).",
                         labels: ["type"], series: EventType.all.map { [$0.name] }),
            MetricFamily("mptcpctld_active_subflows", .gauge,
                         "Subflows in this namespace that carry traffic now (TCP state established), read through sock_diag."),
            MetricFamily("mptcpctld_pending_subflows", .gauge,
                         "Subflow joins under way in this namespace now (TCP state syn-sent or syn-recv), read through sock_diag."),
            MetricFamily("mptcpctld_managed_connections", .gauge,
                         "MPTCP connections the userspace path manager manages now."),
            MetricFamily("mptcpctld_owned_endpoints", .gauge,
                         "Endpoints this daemon added and owns now."),
            MetricFamily("mptcpctld_policy_reloads", .gauge,
                         "Policy reloads applied since start-up."),
            MetricFamily("mptcpctld_uptime_seconds", .gauge,
                         "Seconds since the daemon started."),
            MetricFamily("mptcpctld_path_transitions_total", .counter,
                         "Changes of a path's health, by interface, family and new state (up, degraded, down).",
                         labels: ["interface", "family", "to"], series: []),
            MetricFamily("mptcpctld_path_state", .gauge,
                         "A judged path's health now: 0 up or unknown, 1 degraded, 2 down.", labels: ["interface", "family"], series: []),
            MetricFamily("mptcpctld_probes_sent_total", .counter,
                         "Health probes sent (ICMP echo or TCP connect), all paths together."),
            MetricFamily("mptcpctld_probes_lost_total", .counter,
                         "Health probes lost (timed out or failed), all paths together."),
            MetricFamily("mptcpctld_probe_rtt_seconds", .gauge,
                         "A path's smoothed probe round-trip time (RFC 6298 srtt).", labels: ["interface", "family"], series: []),
        ]
        all += pathManagerCounters.map { MetricFamily("mptcpctld_pm_\($0.key)_total", .counter, $0.help) }
        all += pathTrafficFamilies
        all += MPTCPKernelCounters.descriptions.map { netstatFamily($0.name, help: $0.help) }
        return all.sorted { $0.name < $1.name }
    }
}
