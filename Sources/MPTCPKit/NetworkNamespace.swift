import CNetlink
import Glibc

/// A network namespace to act in: the caller's own, or a named one under
/// `/run/netns` (as `ip netns add` creates them).
///
/// Netlink sockets belong to the namespace of the thread that creates them, and
/// `/proc/sys/net` shows the namespace of the thread that opens it. `perform`
/// therefore runs its work on a fresh, dedicated thread that has called
/// `setns(2)`; never on a Swift concurrency thread, which other tasks share.
public struct NetworkNamespace: Hashable, Sendable, CustomStringConvertible {
    /// The namespace's name under `/run/netns`, nil for the caller's own.
    public let name: String?

    /// The namespace the calling thread is in.
    public static let current = NetworkNamespace(unchecked: nil)

    private init(unchecked name: String?) { self.name = name }

    /// A named namespace. The name is checked here (no path separators, no `..`);
    /// whether it exists is checked when it is entered.
    public init(named name: String) throws(MPTCPError) {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), name.utf8.count < 256 else {
            throw .invalidArgument("select network namespace", "'\(name)' is not a valid namespace name")
        }
        self.name = name
    }

    /// `/run/netns/NAME`, or nil for the current namespace.
    public var path: String? { name.map { "/run/netns/" + $0 } }

    public var description: String { name ?? "(current)" }

    /// `setns(2)`: moves the calling thread into this namespace for good (nothing
    /// for the current one). Only for a thread its caller owns and keeps for this
    /// namespace's work (never a Swift concurrency thread): afterwards
    /// `NetworkNamespace.current` on that thread means this namespace, and sysctl
    /// reads there cost no thread of their own.
    public func enterOnThisThread() throws(MPTCPError) {
        guard let path else { return }
        let fd = try systemCall("enter network namespace \(description)") { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        try systemCall("enter network namespace \(description)") { cnl_setns_net(fd) }
    }

    /// Runs `body` inside this namespace and returns its result. For the current
    /// namespace the body runs on the calling thread; for a named one it runs on
    /// a new thread that enters the namespace first and ends afterwards.
    public func perform<T>(_ body: () throws(MPTCPError) -> T) throws(MPTCPError) -> T {
        guard let path else { return try body() }
        let operation = "enter network namespace \(description)"
        let fd: Int32
        switch valueOrErrno({ open(path, O_RDONLY | O_CLOEXEC) }) {
        case .success(let opened): fd = opened
        case .failure(let errno) where errno.rawValue == ENOENT:
            throw .notFound(operation, "no namespace named '\(description)' (see 'ip netns list')", errno: ENOENT)
        case .failure(let errno): throw .system(operation, errno: errno.rawValue)
        }
        defer { close(fd) }
        return try withoutActuallyEscaping(body) { (escapable) throws(MPTCPError) -> T in
            let job = NamespaceThreadJob(enter: { cnl_setns_net(fd) }) { () -> Result<T, MPTCPError> in
                Result { () throws(MPTCPError) -> T in try escapable() }
            }
            try job.runOnDedicatedThread("start namespace thread")
            guard let outcome = job.outcome else { throw .system(operation, errno: job.enterErrno) }
            return try outcome.get()
        }
    }
}

/// Work run on a thread of its own that first enters a namespace (`setns` into a
/// named one, or `unshare` a throw-away one) — a namespace is per thread, so the
/// caller's thread never changes. Only that thread touches the job while it runs;
/// the caller joins the thread before reading `outcome`.
final class NamespaceThreadJob<T> {
    let enter: () -> Int32
    let work: () -> Result<T, MPTCPError>
    var outcome: Result<T, MPTCPError>?
    /// The errno of `enter` when it failed (then `outcome` stays nil).
    var enterErrno: Int32 = 0

    /// `enter` is a syscall shim returning 0 or -1 with errno set.
    init(enter: @escaping () -> Int32, work: @escaping () -> Result<T, MPTCPError>) {
        self.enter = enter
        self.work = work
    }

    func runOnThread() {
        switch valueOrErrno({ enter() }) {
        case .success: outcome = work()
        case .failure(let errno): enterErrno = errno.rawValue
        }
    }

    /// Starts the thread (`pthread_create`) and joins it; `what` names it in the error.
    func runOnDedicatedThread(_ what: String) throws(MPTCPError) {
        let context = Unmanaged.passRetained(JobBox(run: runOnThread)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            let box = Unmanaged<JobBox>.fromOpaque(raw).takeRetainedValue()
            box.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<JobBox>.fromOpaque(context).release()
            throw MPTCPError.system(what, errno: rc)
        }
        pthread_join(thread, nil)
    }
}

/// The thread's entry point, boxed for pthread_create's context pointer.
private final class JobBox {
    let run: () -> Void
    init(run: @escaping () -> Void) { self.run = run }
}
