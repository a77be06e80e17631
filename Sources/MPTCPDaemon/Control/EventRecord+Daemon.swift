import NIOConcurrencyHelpers
import MPTCPAPI
import MPTCPKit
import Synchronization

/// Something the daemon saw or did, as `subscribe` streams it and hooks get it:
/// the control API's event schema (`EventRecord`), which the CLI shares.
typealias DaemonEvent = EventRecord

extension EventRecord {
    /// The hook event this is, if hooks run on it (`mptcpctld(8)`, HOOKS).
    var hookEvent: String? {
        switch (kind, type) {
        case (.kernel, "established"): "connection_established"
        case (.kernel, "closed"): "connection_closed"
        case (.kernel, "sub_established"): "subflow_established"
        case (.kernel, "sub_closed"): "subflow_closed"
        case (.action, "promoted"): "promotion"
        case (.action, "demoted"): "demotion"
        case (.action, "handover"): "handover"
        case (.interface, "link_up"): "interface_up"
        case (.interface, "link_down"): "interface_down"
        case (.policy, "reloaded"): "policy_reloaded"
        case (.health, "path_up"): "path_up"
        case (.health, "path_degraded"): "path_degraded"
        case (.health, "path_down"): "path_down"
        default: nil
        }
    }

    /// A kernel event; `time` is set when it is published, right after it was read.
    init(_ e: Event, interfaceName: (Int32) -> String?) {
        self.init(e, time: 0, interfaceName: interfaceName)
    }
}
