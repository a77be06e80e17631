import MPTCPPolicy
import CFuzzDriver
#if canImport(Glibc)
import Glibc
#endif

/// One input: a policy file, loaded and validated as `mptcpctld --check` does
/// (with a kernel offer, so the scheduler and path-manager checks run too).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let offer = KernelOffer(pathManagers: ["kernel", "userspace"], schedulers: ["default", "bpf_burst"])
    // (The reload diff of a valid policy is the daemon's, outside MPTCPPolicy since issue 12.)
    _ = try? PolicyLoader.load(text, file: "fuzz.toml", offer: offer)
    return 0
}

exit(mptcpctl_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv) { data, size in
    guard let data else { return 0 }
    return fuzz(data, size)
})
