import CNetlink
import Glibc

// The one funnel from a C return value to `MPTCPError`, as swift-system's
// `Internals/Syscalls.swift` funnels every syscall through `valueOrErrno`: errno
// is read right after the call that set it and nowhere else, and libnl's
// negative `NLE_*` codes are translated here, never by reading errno after a
// libnl call (libnl may have made other calls since the one that failed).

/// A positive errno, read right after the call that set it.
struct Errno: Error, Hashable, Sendable {
    var rawValue: Int32

    /// `errno` of the calling thread, now.
    static var current: Errno { Errno(rawValue: cnl_errno()) }
}

/// A system call's result: the value when it is not negative, else the errno
/// it set. With `retryOnInterrupt`, a call interrupted by a signal (EINTR) is
/// made again.
func valueOrErrno<I: FixedWidthInteger>(retryOnInterrupt: Bool = true, _ call: () -> I) -> Result<I, Errno> {
    while true {
        let value = call()
        if value >= 0 { return .success(value) }
        let errno = Errno.current
        if retryOnInterrupt && errno.rawValue == EINTR { continue }
        return .failure(errno)
    }
}

/// A system call that must succeed for `operation` to go on: its value, or
/// `MPTCPError.system` with the errno it set.
@discardableResult
func systemCall<I: FixedWidthInteger>(_ operation: @autoclosure () -> String, retryOnInterrupt: Bool = true,
                                      _ call: () -> I) throws(MPTCPError) -> I {
    switch valueOrErrno(retryOnInterrupt: retryOnInterrupt, call) {
    case .success(let value): return value
    case .failure(let errno): throw .system(operation(), errno: errno.rawValue)
    }
}

/// A libnl call that must succeed for `operation` to go on: its value when it
/// is not negative, else `MPTCPError.libnl` for the `-NLE_*` code it returned.
@discardableResult
func libnlCall(_ operation: @autoclosure () -> String, code: MPTCPError.Code = .system, hint: String? = nil,
               _ call: () -> Int32) throws(MPTCPError) -> Int32 {
    let rc = call()
    guard rc < 0 else { return rc }
    var error = MPTCPError.libnl(operation(), returned: rc, code: code)
    if let hint { error.hint = hint }
    throw error
}

/// The errno a negative libnl return code stands for: the inverse of libnl's
/// `nl_syserr2nlerr`, for the codes it makes from a failed system call. nil for
/// codes libnl makes of its own (`NLE_OBJ_NOTFOUND` from a cache lookup,
/// `NLE_MSG_TRUNC`, parse errors...), which no errno describes.
func errnoForLibnl(_ rc: Int32) -> Int32? {
    switch -rc {
    case NLE_INTR: return EINTR
    case NLE_BAD_SOCK: return EBADF
    case NLE_AGAIN: return EAGAIN
    case NLE_NOMEM: return ENOMEM
    case NLE_EXIST: return EEXIST
    case NLE_INVAL: return EINVAL
    case NLE_RANGE: return ERANGE
    case NLE_OPNOTSUPP: return EOPNOTSUPP
    case NLE_AF_NOSUPPORT: return EAFNOSUPPORT
    case NLE_NOADDR: return EADDRNOTAVAIL
    case NLE_BUSY: return EBUSY
    case NLE_PROTO_MISMATCH: return EPROTONOSUPPORT
    case NLE_NOACCESS: return EACCES
    case NLE_PERM: return EPERM
    case NLE_NODEV: return ENODEV
    default: return nil
    }
}

/// libnl's text for a negative `NLE_*` code (`nl_geterror`).
func libnlError(_ code: Int32) -> String {
    guard let text = nl_geterror(code) else { return "libnl error \(code)" }
    return String(cString: text)
}
