import MPTCPKit
import CFuzzDriver
#if canImport(Glibc)
import Glibc
#endif

/// One input: a netlink datagram as the mptcp_pm event socket, the mptcp_pm
/// request socket or the rtnetlink socket reads it. The first byte picks which
/// (so one corpus covers the three), the rest is the datagram.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 3 {
    case 0:
        // Family ids are dynamic; events of any family are tried.
        if bytes.count >= 6 {
            let family = UInt16(bytes[4]) | UInt16(bytes[5]) << 8
            _ = WireDecoding.mptcpEvents(bytes, familyID: family)
        }
    case 1: _ = WireDecoding.mptcpReplies(bytes)
    default: _ = WireDecoding.rtnetlink(bytes)
    }
    return 0
}

exit(mptcpctl_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv) { data, size in
    guard let data else { return 0 }
    return fuzz(data, size)
})
