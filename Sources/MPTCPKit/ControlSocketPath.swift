/// Where a daemon with no `[daemon] socket` listens: `/run/mptcpctl/mptcpctld.sock`
/// in the host namespace, `/run/mptcpctl/mptcpctld-NAME.sock` in namespace NAME
/// (`-n NAME`), so daemons in several namespaces never collide. A namespace with
/// no name has no default of its own (it would be the host's): the daemon
/// refuses to start there without an explicit `[daemon] socket`.
/// (Here, below both, because the policy's default and the CLI's must agree.)
public func defaultControlSocketPath(namespace name: String?) -> String {
    name.map { "/run/mptcpctl/mptcpctld-\($0).sock" } ?? "/run/mptcpctl/mptcpctld.sock"
}
