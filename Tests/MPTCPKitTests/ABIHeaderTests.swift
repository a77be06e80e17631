import Foundation
import Testing
@testable import MPTCPKit

/// MPTCPKit writes the kernel ABI in Swift (the installed uapi headers may be
/// older than the kernel). This test compiles a small C program against the
/// installed headers and checks every constant they do define against ours;
/// constants the headers lack (newer than them) are reported and skipped.
@Suite struct ABIHeaderTests {
    /// (C name, our value, is it a macro). Enumerators cannot be tested with #ifdef.
    static let constants: [(String, Int, Bool)] = {
        var list: [(String, Int, Bool)] = [
            ("MPTCP_PM_VER", Int(MPTCPFamily.version), true),
            ("MPTCP_PM_ADDR_FLAG_SIGNAL", Int(EndpointFlags.signal.rawValue), true),
            ("MPTCP_PM_ADDR_FLAG_SUBFLOW", Int(EndpointFlags.subflow.rawValue), true),
            ("MPTCP_PM_ADDR_FLAG_BACKUP", Int(EndpointFlags.backup.rawValue), true),
            ("MPTCP_PM_ADDR_FLAG_FULLMESH", Int(EndpointFlags.fullmesh.rawValue), true),
            ("MPTCP_PM_ADDR_FLAG_IMPLICIT", Int(EndpointFlags.implicit.rawValue), true),
            ("MPTCP_PM_ADDR_FLAG_LAMINAR", Int(EndpointFlags.laminar.rawValue), true),
            ("MPTCP_PM_EV_FLAG_DENY_JOIN_ID0", Int(EventFlags.denyJoinID0.rawValue), true),
            ("MPTCP_PM_EV_FLAG_SERVER_SIDE", Int(EventFlags.serverSide.rawValue), true),
            ("MPTCP_SUBFLOW_FLAG_BKUP_REM", Int(SubflowDiagFlag.backupRemote), true),
            ("MPTCP_SUBFLOW_FLAG_BKUP_LOC", Int(SubflowDiagFlag.backupLocal), true),
            ("MPTCP_SUBFLOW_FLAG_FULLY_ESTABLISHED", Int(SubflowDiagFlag.fullyEstablished), true),
            ("MPTCP_PM_ATTR_ADDR", Int(PMAttr.addr), false),
            ("MPTCP_PM_ATTR_RCV_ADD_ADDRS", Int(PMAttr.rcvAddAddrs), false),
            ("MPTCP_PM_ATTR_SUBFLOWS", Int(PMAttr.subflows), false),
            ("MPTCP_PM_ATTR_TOKEN", Int(PMAttr.token), false),
            ("MPTCP_PM_ATTR_LOC_ID", Int(PMAttr.locID), false),
            ("MPTCP_PM_ATTR_ADDR_REMOTE", Int(PMAttr.addrRemote), false),
            ("MPTCP_PM_ADDR_ATTR_FAMILY", Int(AddrAttr.family), false),
            ("MPTCP_PM_ADDR_ATTR_ID", Int(AddrAttr.id), false),
            ("MPTCP_PM_ADDR_ATTR_ADDR4", Int(AddrAttr.addr4), false),
            ("MPTCP_PM_ADDR_ATTR_ADDR6", Int(AddrAttr.addr6), false),
            ("MPTCP_PM_ADDR_ATTR_PORT", Int(AddrAttr.port), false),
            ("MPTCP_PM_ADDR_ATTR_FLAGS", Int(AddrAttr.flags), false),
            ("MPTCP_PM_ADDR_ATTR_IF_IDX", Int(AddrAttr.ifIndex), false),
            ("MPTCP_ATTR_TOKEN", Int(EventAttr.token), false),
            ("MPTCP_ATTR_FAMILY", Int(EventAttr.family), false),
            ("MPTCP_ATTR_LOC_ID", Int(EventAttr.locID), false),
            ("MPTCP_ATTR_REM_ID", Int(EventAttr.remID), false),
            ("MPTCP_ATTR_SADDR4", Int(EventAttr.saddr4), false),
            ("MPTCP_ATTR_SADDR6", Int(EventAttr.saddr6), false),
            ("MPTCP_ATTR_DADDR4", Int(EventAttr.daddr4), false),
            ("MPTCP_ATTR_DADDR6", Int(EventAttr.daddr6), false),
            ("MPTCP_ATTR_SPORT", Int(EventAttr.sport), false),
            ("MPTCP_ATTR_DPORT", Int(EventAttr.dport), false),
            ("MPTCP_ATTR_BACKUP", Int(EventAttr.backup), false),
            ("MPTCP_ATTR_ERROR", Int(EventAttr.error), false),
            ("MPTCP_ATTR_FLAGS", Int(EventAttr.flags), false),
            ("MPTCP_ATTR_TIMEOUT", Int(EventAttr.timeout), false),
            ("MPTCP_ATTR_IF_IDX", Int(EventAttr.ifIndex), false),
            ("MPTCP_ATTR_RESET_REASON", Int(EventAttr.resetReason), false),
            ("MPTCP_ATTR_RESET_FLAGS", Int(EventAttr.resetFlags), false),
            ("MPTCP_ATTR_SERVER_SIDE", Int(EventAttr.serverSide), false),
            ("MPTCP_SUBFLOW_ATTR_TOKEN_REM", Int(SubflowDiagAttr.tokenRemote), false),
            ("MPTCP_SUBFLOW_ATTR_TOKEN_LOC", Int(SubflowDiagAttr.tokenLocal), false),
            ("MPTCP_SUBFLOW_ATTR_FLAGS", Int(SubflowDiagAttr.flags), false),
            ("MPTCP_SUBFLOW_ATTR_ID_REM", Int(SubflowDiagAttr.idRemote), false),
            ("MPTCP_SUBFLOW_ATTR_ID_LOC", Int(SubflowDiagAttr.idLocal), false),
            ("INET_DIAG_INFO", Int(RT.inetDiagInfo), false),
            ("INET_DIAG_ULP_INFO", Int(RT.inetDiagULPInfo), false),
            ("INET_DIAG_REQ_PROTOCOL", Int(RT.inetDiagReqProtocol), false),
            ("INET_ULP_INFO_NAME", Int(RT.inetULPInfoName), false),
            ("INET_ULP_INFO_MPTCP", Int(RT.inetULPInfoMPTCP), false),
            ("SOCK_DIAG_BY_FAMILY", Int(RT.sockDiagByFamily), true),
            ("RTM_NEWLINK", Int(RT.newLink), false),
            ("RTM_GETLINK", Int(RT.getLink), false),
            ("RTM_NEWADDR", Int(RT.newAddr), false),
            ("RTM_GETADDR", Int(RT.getAddr), false),
            ("IFLA_IFNAME", Int(RT.iflaIfname), false),
            ("RTM_DELLINK", Int(RT.delLink), false),
            ("RTM_DELADDR", Int(RT.delAddr), false),
            ("RTM_NEWROUTE", Int(RT.newRoute), false),
            ("RTM_DELROUTE", Int(RT.delRoute), false),
            ("RTM_GETROUTE", Int(RT.getRoute), false),
            ("IFLA_OPERSTATE", Int(RT.iflaOperstate), false),
            ("IFA_FLAGS", Int(RT.ifaFlags), false),
            ("RTA_OIF", Int(RT.rtaOif), false),
            ("RTA_MULTIPATH", Int(RT.rtaMultipath), false),
            ("RTNH_F_ONLINK", Int(RT.nextHopFlagOnLink), true),
            ("RTA_TABLE", Int(RT.rtaTable), false),
            ("RT_TABLE_MAIN", Int(RT.tableMain), false),
            ("RTN_UNICAST", Int(RT.routeUnicast), false),
            ("RTNLGRP_LINK", Int(RT.groupLink), false),
            ("RTNLGRP_IPV4_IFADDR", Int(RT.groupIPv4Address), false),
            ("RTNLGRP_IPV4_ROUTE", Int(RT.groupIPv4Route), false),
            ("RTNLGRP_IPV6_IFADDR", Int(RT.groupIPv6Address), false),
            ("RTNLGRP_IPV6_ROUTE", Int(RT.groupIPv6Route), false),
            ("IFA_ADDRESS", Int(RT.ifaAddress), false),
            ("IFA_LOCAL", Int(RT.ifaLocal), false),
            ("NETLINK_EXT_ACK", Int(NL.optExtAck), true),
            ("NETLINK_CAP_ACK", Int(NL.optCapAck), true),
            ("SOL_NETLINK", Int(NL.solNetlink), true),
            ("NLM_F_CAPPED", Int(NL.fCapped), true),
            ("NLM_F_ACK_TLVS", Int(NL.fAckTLVs), true),
            ("NLM_F_DUMP", Int(NL.fDump), true),
            ("NLMSG_ERROR", Int(NL.error), true),
            ("NLMSG_DONE", Int(NL.done), true),
            ("NLMSGERR_ATTR_MSG", Int(NL.errAttrMsg), false),
            ("NLMSGERR_ATTR_OFFS", Int(NL.errAttrOffset), false),
            ("NLMSGERR_ATTR_MISS_TYPE", Int(NL.errAttrMissType), false),
            ("NETLINK_GENERIC", Int(NL.protoGeneric), true),
            ("NETLINK_SOCK_DIAG", Int(NL.protoSockDiag), true),
            ("NETLINK_ROUTE", Int(NL.protoRoute), true),
        ]
        for c in Command.allCases {
            let names: [Command: String] = [
                .addAddress: "ADD_ADDR", .deleteAddress: "DEL_ADDR", .getAddress: "GET_ADDR", .flushAddresses: "FLUSH_ADDRS",
                .setLimits: "SET_LIMITS", .getLimits: "GET_LIMITS", .setFlags: "SET_FLAGS", .announce: "ANNOUNCE",
                .remove: "REMOVE", .subflowCreate: "SUBFLOW_CREATE", .subflowDestroy: "SUBFLOW_DESTROY",
            ]
            list.append(("MPTCP_PM_CMD_" + (names[c] ?? "?"), Int(c.rawValue), false))
        }
        let events: [(String, EventType)] = [
            ("CREATED", .created), ("ESTABLISHED", .established), ("CLOSED", .closed), ("ANNOUNCED", .announced),
            ("REMOVED", .removed), ("SUB_ESTABLISHED", .subflowEstablished), ("SUB_CLOSED", .subflowClosed),
            ("SUB_PRIORITY", .subflowPriority), ("LISTENER_CREATED", .listenerCreated), ("LISTENER_CLOSED", .listenerClosed),
        ]
        list += events.map { ("MPTCP_EVENT_" + $0.0, Int($0.1.rawValue), false) }
        return list
    }()

    static let headers = """
        #include <stdio.h>
        #include <sys/socket.h>
        #include <linux/netlink.h>
        #include <linux/rtnetlink.h>
        #include <linux/sock_diag.h>
        #include <linux/inet_diag.h>
        #include <linux/mptcp.h>
        #if __has_include(<linux/mptcp_pm.h>)
        #include <linux/mptcp_pm.h>
        #endif
        """

    static func program(_ constants: [(String, Int, Bool)]) -> String {
        var body = headers + "\nint main(void) {\n"
        for (name, _, isMacro) in constants {
            let line = "    printf(\"\(name) %ld\\n\", (long)(\(name)));\n"
            body += isMacro ? "#ifdef \(name)\n\(line)#endif\n" : line
        }
        return body + "    return 0;\n}\n"
    }

    /// Runs a program and returns (status, stdout+stderr).
    static func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func constantsMatchTheInstalledKernelHeaders() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mptcpctl-abi-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("abi.c").path
        let binary = dir.appendingPathComponent("abi").path

        // Enumerators the header does not know make the compiler complain; drop those and retry.
        var remaining = Self.constants
        var unknown: [String] = []
        var compiled = false
        for _ in 0..<8 {
            try Self.program(remaining).write(toFile: source, atomically: true, encoding: .utf8)
            let (status, output) = try Self.run("/usr/bin/cc", ["-w", "-o", binary, source])
            if status == 0 { compiled = true; break }
            let missing = remaining.map(\.0).filter { output.contains("'\($0)'") || output.contains("‘\($0)’") }
            try #require(!missing.isEmpty, "cc failed for another reason: \(output)")
            unknown += missing
            remaining.removeAll { missing.contains($0.0) }
        }
        try #require(compiled)
        let (status, output) = try Self.run(binary, [])
        try #require(status == 0)
        var seen = 0
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let value = Int(parts[1]),
                  let ours = remaining.first(where: { $0.0 == parts[0] }) else { continue }
            #expect(value == ours.1, "\(ours.0): header says \(value), MPTCPKit says \(ours.1)")
            seen += 1
        }
        // The Debian 12 headers define most of them; a header lacking everything would mean a broken test.
        #expect(seen >= 60, "only \(seen) constants found in the headers; not in them: \(unknown)")
    }
}
