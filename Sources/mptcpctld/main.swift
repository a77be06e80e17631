// `mptcpctld`: the daemon's entry point. Everything else is the MPTCPDaemon
// library, which the daemon's unit tests link.
import MPTCPDaemon

await MPTCPCtlD.launch()
