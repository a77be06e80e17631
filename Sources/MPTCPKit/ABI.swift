// Kernel ABI constants of the `mptcp_pm` generic-netlink family, netlink and
// sock_diag, written in Swift because the installed uapi headers may predate the
// running kernel (Debian 12 ships 6.1 headers; LAMINAR, the listener events and
// the event flags are newer). `ABIHeaderTests` checks every value the installed
// header does define.

/// Names and numbers of the `mptcp_pm` generic-netlink family (`MPTCP_PM_*`).
public enum MPTCPFamily {
    /// `MPTCP_PM_NAME`
    public static let name = "mptcp_pm"
    /// `MPTCP_PM_VER`
    public static let version: UInt8 = 1
    /// `MPTCP_PM_CMD_GRP_NAME`
    public static let commandGroup = "mptcp_pm_cmds"
    /// `MPTCP_PM_EV_GRP_NAME`
    public static let eventGroup = "mptcp_pm_events"
}

/// `MPTCP_PM_CMD_*`: the commands of the family.
public enum Command: UInt8, Sendable, CaseIterable {
    /// `MPTCP_PM_CMD_ADD_ADDR`
    case addAddress = 1
    /// `MPTCP_PM_CMD_DEL_ADDR`
    case deleteAddress = 2
    /// `MPTCP_PM_CMD_GET_ADDR`
    case getAddress = 3
    /// `MPTCP_PM_CMD_FLUSH_ADDRS`
    case flushAddresses = 4
    /// `MPTCP_PM_CMD_SET_LIMITS`
    case setLimits = 5
    /// `MPTCP_PM_CMD_GET_LIMITS`
    case getLimits = 6
    /// `MPTCP_PM_CMD_SET_FLAGS`
    case setFlags = 7
    /// `MPTCP_PM_CMD_ANNOUNCE`
    case announce = 8
    /// `MPTCP_PM_CMD_REMOVE`
    case remove = 9
    /// `MPTCP_PM_CMD_SUBFLOW_CREATE`
    case subflowCreate = 10
    /// `MPTCP_PM_CMD_SUBFLOW_DESTROY`
    case subflowDestroy = 11
}

/// `MPTCP_PM_ATTR_*`: top-level command attributes.
enum PMAttr {
    static let addr: UInt16 = 1
    static let rcvAddAddrs: UInt16 = 2
    static let subflows: UInt16 = 3
    static let token: UInt16 = 4
    static let locID: UInt16 = 5
    static let addrRemote: UInt16 = 6
}

/// `MPTCP_PM_ADDR_ATTR_*`: attributes inside an address nest.
enum AddrAttr {
    static let family: UInt16 = 1
    static let id: UInt16 = 2
    static let addr4: UInt16 = 3
    static let addr6: UInt16 = 4
    static let port: UInt16 = 5
    static let flags: UInt16 = 6
    static let ifIndex: UInt16 = 7
}

/// `MPTCP_ATTR_*`: event attributes (`enum mptcp_event_attr`).
enum EventAttr {
    static let token: UInt16 = 1
    static let family: UInt16 = 2
    static let locID: UInt16 = 3
    static let remID: UInt16 = 4
    static let saddr4: UInt16 = 5
    static let saddr6: UInt16 = 6
    static let daddr4: UInt16 = 7
    static let daddr6: UInt16 = 8
    static let sport: UInt16 = 9
    static let dport: UInt16 = 10
    static let backup: UInt16 = 11
    static let error: UInt16 = 12
    static let flags: UInt16 = 13
    static let timeout: UInt16 = 14
    static let ifIndex: UInt16 = 15
    static let resetReason: UInt16 = 16
    static let resetFlags: UInt16 = 17
    static let serverSide: UInt16 = 18
}

/// `MPTCP_SUBFLOW_ATTR_*`: the subflow attributes inside `INET_ULP_INFO_MPTCP`.
enum SubflowDiagAttr {
    static let tokenRemote: UInt16 = 1
    static let tokenLocal: UInt16 = 2
    static let flags: UInt16 = 8
    static let idRemote: UInt16 = 9
    static let idLocal: UInt16 = 10
}

/// `MPTCP_SUBFLOW_FLAG_*` bits reported by sock_diag for a subflow.
enum SubflowDiagFlag {
    static let backupRemote: UInt32 = 1 << 4
    static let backupLocal: UInt32 = 1 << 5
    static let fullyEstablished: UInt32 = 1 << 6
}

/// Address families as the kernel numbers them.
enum AddressFamily {
    static let inet: UInt16 = 2
    static let inet6: UInt16 = 10
}

/// Netlink protocol constants used by MPTCPKit.
enum NL {
    static let headerLength = 16
    static let noop: UInt16 = 1
    static let error: UInt16 = 2
    static let done: UInt16 = 3
    static let overrun: UInt16 = 4

    static let fRequest: UInt16 = 0x1
    static let fMulti: UInt16 = 0x2
    static let fAck: UInt16 = 0x4
    static let fRoot: UInt16 = 0x100
    static let fMatch: UInt16 = 0x200
    static let fDump: UInt16 = fRoot | fMatch
    /// `NLM_F_EXCL` and `NLM_F_CREATE` of a new-object request (EXCL shares MATCH's bit).
    static let fExclusive: UInt16 = 0x200
    static let fCreate: UInt16 = 0x400
    /// `NLM_F_CAPPED`: the error message carries only the request's header.
    static let fCapped: UInt16 = 0x100
    /// `NLM_F_ACK_TLVS`: the error message carries extended-ack TLVs.
    static let fAckTLVs: UInt16 = 0x200

    static let solNetlink: Int32 = 270
    static let optExtAck: Int32 = 11
    static let optCapAck: Int32 = 10

    /// `NLMSGERR_ATTR_*`
    static let errAttrMsg: UInt16 = 1
    static let errAttrOffset: UInt16 = 2
    static let errAttrMissType: UInt16 = 5

    static let attrTypeMask: UInt16 = 0x3fff
    static let fNested: UInt16 = 0x8000

    static let protoRoute: Int32 = 0
    static let protoSockDiag: Int32 = 4
    static let protoGeneric: Int32 = 16
}

/// rtnetlink and sock_diag message and attribute numbers.
enum RT {
    static let newLink: UInt16 = 16
    static let getLink: UInt16 = 18
    static let delLink: UInt16 = 17
    static let newAddr: UInt16 = 20
    static let delAddr: UInt16 = 21
    static let getAddr: UInt16 = 22
    static let newRoute: UInt16 = 24
    static let delRoute: UInt16 = 25
    static let getRoute: UInt16 = 26
    static let newRule: UInt16 = 32
    static let delRule: UInt16 = 33
    static let getRule: UInt16 = 34
    /// `RTA_*` of a route: addresses (`RTA_DST`, `RTA_SRC`, `RTA_GATEWAY`,
    /// `RTA_PREFSRC`), the metric (u32) and `RTA_VIA` (family u16 + address).
    static let rtaDst: UInt16 = 1
    static let rtaSrc: UInt16 = 2
    static let rtaGateway: UInt16 = 5
    static let rtaPriority: UInt16 = 6
    static let rtaPrefsrc: UInt16 = 7
    static let rtaVia: UInt16 = 18
    /// `RTM_F_LOOKUP_TABLE`: a lookup's reply names the FIB table that matched.
    static let rtmFLookupTable: UInt32 = 0x1000
    /// `RTNH_F_ONLINK`, in `rtm_flags` and `rtnh_flags`: the gateway is on the
    /// link even though no connected route holds it (a cloud host's /32 address).
    static let nextHopFlagOnLink: UInt32 = 4
    /// `FRA_*` of a rule: `FRA_SRC` (address), `FRA_PRIORITY`, `FRA_SUPPRESS_PREFIXLEN` and `FRA_TABLE` (u32),
    /// `FRA_PROTOCOL` (u8).
    static let fraSrc: UInt16 = 2
    static let fraPriority: UInt16 = 6
    static let fraSuppressPrefixLength: UInt16 = 14
    static let fraTable: UInt16 = 15
    static let fraProtocol: UInt16 = 21
    /// `FR_ACT_TO_TBL`: a rule that looks the destination up in its table.
    static let ruleActionToTable: UInt8 = 1
    /// `IFLA_OPERSTATE` (u8, `IF_OPER_*`).
    static let iflaOperstate: UInt16 = 16
    /// `IFA_FLAGS` (u32): the full address flags; `ifa_flags` holds only the low 8 bits.
    static let ifaFlags: UInt16 = 8
    /// `RTA_OIF` (s32), `RTA_TABLE` (u32), `RTA_MULTIPATH` (struct rtnexthop list).
    static let rtaOif: UInt16 = 4
    static let rtaMultipath: UInt16 = 9
    static let rtaTable: UInt16 = 15
    /// `RT_TABLE_MAIN`, `RTN_UNICAST`.
    static let tableMain: UInt32 = 254
    static let routeUnicast: UInt8 = 1
    /// rtnetlink multicast groups (`RTNLGRP_*`) the daemon listens to.
    static let groupLink: Int32 = 1
    static let groupIPv4Address: Int32 = 5
    static let groupIPv4Route: Int32 = 7
    static let groupIPv6Address: Int32 = 9
    static let groupIPv6Route: Int32 = 11
    static let groupIPv4Rule: Int32 = 8
    static let groupIPv6Rule: Int32 = 19
    static let iflaIfname: UInt16 = 3
    static let ifaAddress: UInt16 = 1
    static let ifaLocal: UInt16 = 2
    static let ifaLabel: UInt16 = 3

    static let sockDiagByFamily: UInt16 = 20
    static let ipprotoTCP: UInt8 = 6
    static let ipprotoMPTCP: UInt32 = 262
    static let inetDiagInfo: UInt16 = 2
    static let inetDiagReqProtocol: UInt16 = 3
    static let inetDiagSKV6Only: UInt16 = 11
    static let inetDiagULPInfo: UInt16 = 19
    static let inetULPInfoName: UInt16 = 1
    static let inetULPInfoMPTCP: UInt16 = 3
}
