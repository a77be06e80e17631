import CNetlink
import Glibc
import Testing
@testable import MPTCPKit

/// The one funnel from a system call's or libnl's return value to `MPTCPError`.
@Suite struct ErrorFunnelTests {
    @Test func valueOrErrnoReturnsTheValueOfASuccessfulCall() {
        #expect(valueOrErrno { Int32(3) } == .success(3))
    }

    @Test func valueOrErrnoReadsTheErrnoOfAFailedCall() {
        #expect(valueOrErrno { close(-1) } == .failure(Errno(rawValue: EBADF)))
    }

    @Test func valueOrErrnoMakesAnInterruptedCallAgain() {
        var calls = 0
        let result = valueOrErrno { () -> Int32 in
            calls += 1
            if calls == 1 { errno = EINTR; return -1 }
            return 7
        }
        #expect(result == .success(7))
        #expect(calls == 2)
    }

    @Test func valueOrErrnoWithoutRetryReportsTheInterruption() {
        var calls = 0
        let result = valueOrErrno(retryOnInterrupt: false) { () -> Int32 in
            calls += 1
            errno = EINTR
            return -1
        }
        #expect(result == .failure(Errno(rawValue: EINTR)))
        #expect(calls == 1)
    }

    @Test func failedSystemCallThrowsTheOperationAndItsErrno() {
        #expect {
            try systemCall("read /nonexistent") { open("/nonexistent/mptcpctl-test", O_RDONLY) }
        } throws: { error in
            guard let error = error as? MPTCPError else { return false }
            return error.code == .system && error.errno == ENOENT
                && error.description == "read /nonexistent: No such file or directory"
        }
    }

    @Test func permissionDeniedSystemCallCarriesTheCapabilityHint() throws {
        let error = MPTCPError.system("join group", errno: EPERM)
        #expect(error.isPermissionDenied)
        #expect(error.description == "join group: Operation not permitted; this needs CAP_NET_ADMIN in the network namespace (run as root)")
    }

    @Test func libnlCodesOfFailedSystemCallsGiveBackTheirErrno() {
        // libnl turns errno into NLE_* with nl_syserr2nlerr; the funnel inverts it.
        for code in [EINTR, EBADF, EAGAIN, ENOMEM, EEXIST, EINVAL, ERANGE, EOPNOTSUPP, EAFNOSUPPORT,
                     EADDRNOTAVAIL, EBUSY, EPROTONOSUPPORT, EACCES, EPERM, ENODEV] {
            #expect(errnoForLibnl(-nl_syserr2nlerr(code)) == code, "errno \(code)")
        }
    }

    @Test func libnlCodesOfItsOwnHaveNoErrnoAndKeepLibnlsText() {
        let error = MPTCPError.libnl("resolve generic netlink family mptcp_pm", returned: -NLE_OBJ_NOTFOUND, code: .notFound)
        #expect(error.errno == nil)
        #expect(error.isNotFound)
        #expect(error.description == "resolve generic netlink family mptcp_pm: Object not found")
        #expect(errnoForLibnl(-NLE_MSG_TRUNC) == nil)
        #expect(errnoForLibnl(-NLE_FAILURE) == nil)
    }

    @Test func libnlPermissionErrorReadsAsTheSystemErrorDid() {
        let viaLibnl = MPTCPError.libnl("join rtnetlink group 1", returned: -NLE_PERM)
        #expect(viaLibnl == MPTCPError.system("join rtnetlink group 1", errno: EPERM))
    }

    @Test func libnlTextIsKeptWhereStrerrorSaysSomethingElse() {
        let error = MPTCPError.libnl("send", returned: -NLE_NOMEM)
        #expect(error.errno == ENOMEM)
        #expect(error.detail == "Out of memory")
    }

    @Test func libnlCallPassesNonNegativeValuesThrough() throws {
        #expect(try libnlCall("resolve") { 23 } == 23)
        #expect(try libnlCall("connect") { 0 } == 0)
    }

    @Test func libnlCallThrowsWithTheCodeAndHintAsked() {
        #expect {
            try libnlCall("resolve generic netlink family x", code: .notFound, hint: "is MPTCP enabled?") { -NLE_OBJ_NOTFOUND }
        } throws: { error in
            guard let error = error as? MPTCPError else { return false }
            return error.code == .notFound && error.hint == "is MPTCP enabled?"
        }
    }

    @Test func namedFactoriesSetTheirCode() {
        #expect(MPTCPError.invalidArgument("set limits", "too many").code == .invalidArgument)
        #expect(MPTCPError.invalidArgument("set limits", "too many").description == "set limits: too many")
        #expect(MPTCPError.notFound("find endpoint", "no endpoint has this address").isNotFound)
        #expect(MPTCPError.protocolViolation("show limits", "the kernel sent no limits").code == .protocolViolation)
    }

    @Test func performInTheCurrentNamespacePassesTheTypedErrorThrough() {
        #expect {
            try NetworkNamespace.current.perform { () throws(MPTCPError) -> Int in
                throw .invalidArgument("do", "nothing")
            }
        } throws: { error in
            (error as? MPTCPError)?.code == .invalidArgument
        }
    }

    @Test func performInAMissingNamespaceIsNotFound() throws {
        let namespace = try NetworkNamespace(named: "mptcpctl-no-such-namespace")
        #expect {
            try namespace.perform { 1 }
        } throws: { error in
            (error as? MPTCPError)?.isNotFound == true
        }
    }
}
