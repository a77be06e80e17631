import Glibc

/// A failure of an MPTCPKit operation. Carries the errno and, for kernel
/// errors, the kernel's extended-ack text, so users see
/// "limit greater than maximum (8)" and not just "Invalid argument".
public struct MPTCPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The broad kind of failure; a struct so new kinds do not break callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let raw: String
        /// The kernel refused the request.
        public static let kernel = Code(raw: "kernel")
        /// A socket, file or other system call failed.
        public static let system = Code(raw: "system")
        /// The kernel's reply could not be decoded.
        public static let protocolViolation = Code(raw: "protocol")
        /// The caller's input is invalid; nothing was sent.
        public static let invalidArgument = Code(raw: "invalid-argument")
        /// Something named does not exist (a namespace, an interface, a family, an endpoint).
        public static let notFound = Code(raw: "not-found")
        public var description: String { raw }
    }

    public var code: Code
    /// What was being done, e.g. "add endpoint 10.0.0.1".
    public var operation: String
    /// The positive errno, when there is one.
    public var errno: Int32?
    /// The kernel's extended-ack message (`NLMSGERR_ATTR_MSG`).
    public var kernelMessage: String?
    /// `NLMSGERR_ATTR_MISS_TYPE`: the attribute the kernel found missing.
    public var missingAttribute: UInt32?
    /// Free text for non-kernel failures.
    public var detail: String?
    /// What the user may do about it.
    public var hint: String?

    public init(code: Code, operation: String, errno: Int32? = nil, kernelMessage: String? = nil,
                missingAttribute: UInt32? = nil, detail: String? = nil, hint: String? = nil) {
        self.code = code
        self.operation = operation
        self.errno = errno
        self.kernelMessage = kernelMessage
        self.missingAttribute = missingAttribute
        self.detail = detail
        self.hint = hint
    }

    /// `strerror` for the errno, e.g. "Invalid argument".
    public var errnoName: String? {
        guard let errno else { return nil }
        guard let text = strerror(errno) else { return "errno \(errno)" }
        return String(cString: text)
    }

    /// One line: operation, the reason (kernel text first), the errno name, and the hint.
    public var description: String {
        var reasons: [String] = []
        if let kernelMessage, !kernelMessage.isEmpty { reasons.append(kernelMessage) }
        if let detail { reasons.append(detail) }
        if let missingAttribute { reasons.append("kernel reports missing attribute \(missingAttribute)") }
        var line = operation + ": " + (reasons.isEmpty ? (errnoName ?? code.description) : reasons.joined(separator: "; "))
        if !reasons.isEmpty, let name = errnoName { line += " (\(name))" }
        if let hint { line += "; " + hint }
        return line
    }

    /// The kernel's answer to a request, with the hints that apply whatever the command.
    static func kernel(_ operation: String, _ status: NetlinkStatus) -> MPTCPError {
        var e = MPTCPError(code: notFoundMessages.contains(status.message ?? "") ? .notFound : .kernel, operation: operation,
                           errno: -status.error, kernelMessage: status.message, missingAttribute: status.missingAttribute)
        e.hint = defaultHint(errno: -status.error, message: status.message)
        return e
    }

    /// The kernel's words for "no such object" where its errno (EINVAL) does not say it:
    /// GET_ADDR, DEL_ADDR and SET_FLAGS with an endpoint id that does not exist.
    static let notFoundMessages: Set<String> = ["address not found"]

    /// A failed system call with the errno it set (see `systemCall`, which reads it).
    static func system(_ operation: String, errno code: Int32) -> MPTCPError {
        MPTCPError(code: .system, operation: operation, errno: code,
                   hint: defaultHint(errno: code, message: nil))
    }

    /// A failed libnl call that returned `rc`, a negative `NLE_*` code: the errno
    /// the code stands for (when it stands for one), and libnl's own text where
    /// `strerror` would not say the same thing.
    static func libnl(_ operation: String, returned rc: Int32, code: Code = .system) -> MPTCPError {
        var error = MPTCPError(code: code, operation: operation, errno: errnoForLibnl(rc))
        let text = libnlError(rc)
        if error.errnoName != text { error.detail = text }
        if let errno = error.errno { error.hint = defaultHint(errno: errno, message: nil) }
        return error
    }

    /// The caller's input is invalid; nothing was sent to the kernel.
    public static func invalidArgument(_ operation: String, _ detail: String, hint: String? = nil) -> MPTCPError {
        MPTCPError(code: .invalidArgument, operation: operation, detail: detail, hint: hint)
    }

    /// Something named (an endpoint, a namespace, an interface) does not exist.
    public static func notFound(_ operation: String, _ detail: String?, errno: Int32? = nil, hint: String? = nil) -> MPTCPError {
        MPTCPError(code: .notFound, operation: operation, errno: errno, detail: detail, hint: hint)
    }

    /// The kernel's reply could not be decoded, or lacked what the request asks for.
    static func protocolViolation(_ operation: String, _ detail: String) -> MPTCPError {
        MPTCPError(code: .protocolViolation, operation: operation, detail: detail)
    }

    static func defaultHint(errno code: Int32, message: String?) -> String? {
        if code == EPERM || code == EACCES {
            return "this needs CAP_NET_ADMIN in the network namespace (run as root)"
        }
        switch message {
        case "invalid token"?:
            return "no MPTCP connection has this token; list them with 'mptcpctl connections'"
        case let m? where m.contains("userspace PM not selected"):
            return "the connection is managed by the in-kernel path manager; select the userspace one with 'mptcpctl path-manager set userspace' before the connection is made"
        default:
            return nil
        }
    }
}

/// What a kernel refusal means, decided here and nowhere else (as Go's
/// netlink decides `IsNotExist(err)`): callers ask these, never match text.
extension MPTCPError {
    /// The kernel has no subflow with the given addresses and ports: SUBFLOW_DESTROY
    /// answers ESRCH "subflow not found" (SET_FLAGS the same text with EINVAL). For a
    /// destroy this means the subflow is already gone; any other refusal leaves it alive.
    public var isNoSuchSubflow: Bool {
        code == .kernel && (errno == ESRCH || kernelMessage == "subflow not found")
    }

    /// No MPTCP connection has the token (ANNOUNCE, REMOVE, SUBFLOW_*: EINVAL
    /// "invalid token"): the connection is gone.
    public var isUnknownToken: Bool {
        code == .kernel && kernelMessage == "invalid token"
    }

    /// The connection is managed by the in-kernel path manager, not the
    /// userspace one (EINVAL "userspace PM not selected"; before 6.18
    /// "invalid request; userspace PM not selected").
    public var isUserspacePMNotSelected: Bool {
        code == .kernel && (kernelMessage?.hasSuffix("userspace PM not selected") ?? false)
    }

    /// The connection is not (yet) fully established: SUBFLOW_CREATE before
    /// the MPTCP handshake completed answers ENOTCONN.
    public var isNotConnected: Bool {
        code == .kernel && errno == ENOTCONN
    }

    /// The named object does not exist: an endpoint id or address ("address
    /// not found"), a namespace, an interface, the genl family.
    public var isNotFound: Bool {
        code == .notFound || (code == .kernel && (kernelMessage?.hasSuffix("not found") ?? false) && errno == EINVAL)
    }

    /// The object to add exists already: a rule or route added with
    /// `NLM_F_EXCL` (EEXIST).
    public var isExists: Bool {
        code == .kernel && errno == EEXIST
    }

    /// The kernel has no route to the destination of a lookup (ENETUNREACH,
    /// EHOSTUNREACH), or a rule sends the packet to a table without one.
    public var isUnreachable: Bool {
        code == .kernel && (errno == ENETUNREACH || errno == EHOSTUNREACH)
    }

    /// The kernel does not implement the request (EOPNOTSUPP): rtnetlink has
    /// no handler for it, as for the rule dump (`RTM_GETRULE`) of a kernel built
    /// without policy routing (`CONFIG_FIB_RULES`).
    public var isNotSupported: Bool {
        code == .kernel && errno == EOPNOTSUPP
    }

    /// A socket found no way to the destination (ENETUNREACH, EHOSTUNREACH from
    /// `sendto`/`connect`, or a connect probe's `SO_ERROR` after an ICMP
    /// unreachable): for a probe, the path does not reach its target.
    public var isNetworkUnreachable: Bool {
        code == .system && (errno == ENETUNREACH || errno == EHOSTUNREACH)
    }

    /// A connect gave up with no answer (ETIMEDOUT).
    public var isTimedOut: Bool {
        code == .system && errno == ETIMEDOUT
    }

    /// The source address a socket binds to or sends from is not (or no longer)
    /// configured on this host (EADDRNOTAVAIL): the path lost its address.
    public var isAddressNotAvailable: Bool {
        code == .system && errno == EADDRNOTAVAIL
    }

    /// The caller lacks CAP_NET_ADMIN in the namespace (EPERM, EACCES).
    public var isPermissionDenied: Bool {
        errno == EPERM || errno == EACCES
    }
}
