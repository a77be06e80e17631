import MPTCPAPI
import CFuzzDriver
#if canImport(Glibc)
import Glibc
#endif

/// One input: a line from a control-socket client, decoded as the daemon
/// decodes requests, then its parameters read as the methods read them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let line = UnsafeBufferPointer(start: data, count: size)
    guard case .success(let request) = RPCWire.decodeRequest(line) else { return 0 }
    if let params = try? RPCParams(request.params, allowed: Set(request.params.keys)) {
        for key in request.params.keys {
            _ = try? params.string(key)
            _ = try? params.integer(key, in: 0...65535)
            _ = try? params.bool(key)
        }
    }
    // The answer path: encoding what was decoded.
    _ = RPCWire.encode(request)
    _ = try? RPCWire.decodeMessage(RPCWire.encodeResponse(id: request.id ?? .null, .success(.object(request.params))).dropLast())
    return 0
}

exit(mptcpctl_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv) { data, size in
    guard let data else { return 0 }
    return fuzz(data, size)
})
