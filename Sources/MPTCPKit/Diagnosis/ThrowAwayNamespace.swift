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
            let job = ThrowAwayJob { () -> Result<T, MPTCPError> in
                Result { () throws(MPTCPError) -> T in try escapable() }
            }
            try job.runOnDedicatedThread()
            guard let outcome = job.outcome else {
                var error = MPTCPError.system("create a throw-away network namespace", errno: job.unshareErrno)
                if job.unshareErrno == EPERM { error.hint = "needs root (CAP_SYS_ADMIN)" }
                throw error
            }
            return try outcome.get()
        }
    }
}

/// The work handed to the throw-away thread; the caller reads `outcome` after joining it.
private final class ThrowAwayJob<T> {
    let work: () -> Result<T, MPTCPError>
    var outcome: Result<T, MPTCPError>?
    var unshareErrno: Int32 = 0

    init(work: @escaping () -> Result<T, MPTCPError>) { self.work = work }

    func run() {
        switch valueOrErrno({ cnl_unshare_net() }) {
        case .success: outcome = work()
        case .failure(let errno): unshareErrno = errno.rawValue
        }
    }

    func runOnDedicatedThread() throws(MPTCPError) {
        let context = Unmanaged.passRetained(ThrowAwayThreadBox(run: run)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<ThrowAwayThreadBox>.fromOpaque(raw).takeRetainedValue().run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<ThrowAwayThreadBox>.fromOpaque(context).release()
            throw MPTCPError.system("start a throw-away namespace thread", errno: rc)
        }
        pthread_join(thread, nil)
    }
}

/// The thread's entry point, boxed for pthread_create's context pointer.
private final class ThrowAwayThreadBox {
    let run: () -> Void
    init(run: @escaping () -> Void) { self.run = run }
}
