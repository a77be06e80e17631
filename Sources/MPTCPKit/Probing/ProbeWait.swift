import CNetlink
import Glibc

/// Waits for probe sockets with poll(2), so a prober thread sleeps until an
/// answer arrives, a connect ends, or its next deadline.
public enum ProbeWait {
    /// The descriptors among `fds` that are ready, after at most
    /// `timeoutMilliseconds` (-1: no limit; 0: do not wait). A stream socket
    /// (a `ConnectProbe`) is ready once writable or in error: its connect ended;
    /// anything else (an `EchoProbeSocket`, a pipe or eventfd used to wake the
    /// thread) once readable or in error. Interrupted waits (EINTR) are made
    /// again with the same timeout. A descriptor that is not open throws (EBADF).
    public static func ready(_ fds: [Int32], timeoutMilliseconds: Int32) throws(MPTCPError) -> Set<Int32> {
        let operation = "wait for probe answers"
        var pollers: [pollfd] = []
        for fd in fds {
            pollers.append(pollfd(fd: fd, events: try isStreamSocket(fd, operation: operation) ? Int16(POLLOUT) : Int16(POLLIN),
                                  revents: 0))
        }
        try systemCall(operation) { poll(&pollers, nfds_t(pollers.count), timeoutMilliseconds) }
        var ready = Set<Int32>()
        for poller in pollers where poller.revents != 0 {
            if poller.revents & Int16(POLLNVAL) != 0 {
                var error = MPTCPError.system(operation, errno: EBADF)
                error.detail = "descriptor \(poller.fd) is not open"
                throw error
            }
            ready.insert(poller.fd)
        }
        return ready
    }

    /// `SO_TYPE` says SOCK_STREAM; a descriptor that is no socket is not one.
    private static func isStreamSocket(_ fd: Int32, operation: String) throws(MPTCPError) -> Bool {
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        switch valueOrErrno({ getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) }) {
        case .success: return type == Int32(SOCK_STREAM.rawValue)
        case .failure(let errno) where errno.rawValue == ENOTSOCK: return false
        case .failure(let errno):
            var error = MPTCPError.system(operation, errno: errno.rawValue)
            error.detail = "descriptor \(fd)"
            throw error
        }
    }
}
