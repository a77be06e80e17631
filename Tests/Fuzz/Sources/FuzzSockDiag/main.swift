import MPTCPKit
import CFuzzDriver
#if canImport(Glibc)
import Glibc
#endif

/// One input: an inet_diag dump datagram; the first byte says MPTCP (odd) or TCP.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    _ = WireDecoding.sockDiag(bytes, mptcp: data[0] & 1 == 1)
    return 0
}

exit(mptcpctl_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv) { data, size in
    guard let data else { return 0 }
    return fuzz(data, size)
})
