import CNetlink
import Glibc

/// A private network namespace that lives as long as one piece of work: a new
/// thread unshares its network namespace (`unshare(CLONE_NEWNET)`), runs the
/// work there and ends, and the namespace goes with it. Same kernel, nothing of
/// the user's namespaces seen or changed: where `doctor` sets flags to learn
/// what the kernel keeps. Needs CAP_SYS_ADMIN.
public enum ThrowAwayNamespace {
    /// Runs `body` in a fresh namespace (only loopback, down; sysctls at their defaults).
    public static func perform<T>(_ body: () throws(MPTCPError) -> T) throws(MPTCPError) -> T {
        try withoutActuallyEscaping(body) { (escapable) throws(MPTCPError) -> T in
            let job = NamespaceThreadJob(enter: { cnl_unshare_net() }) { () -> Result<T, MPTCPError> in
                Result { () throws(MPTCPError) -> T in try escapable() }
            }
            try job.runOnDedicatedThread("start a throw-away namespace thread")
            guard let outcome = job.outcome else {
                var error = MPTCPError.system("create a throw-away network namespace", errno: job.enterErrno)
                if job.enterErrno == EPERM { error.hint = "needs root (CAP_SYS_ADMIN)" }
                throw error
            }
            return try outcome.get()
        }
    }
}
