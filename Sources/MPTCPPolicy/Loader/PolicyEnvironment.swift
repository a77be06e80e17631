/// What the system the daemon runs on would refuse in a policy (groups that do
/// not exist, directories it cannot use, addresses it cannot listen on). The
/// daemon supplies it, so the loader stays free of I/O and `check`, start-up
/// and reload refuse exactly the same files.
public protocol PolicyEnvironment {
    /// Every problem the system has with `policy`, each with its key
    /// (`daemon.socket_group`); the loader adds the lines.
    func problems(_ policy: Policy) -> [PolicyDiagnostic]
}
