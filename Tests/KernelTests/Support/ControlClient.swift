import Foundation
import MPTCPAPI
import Testing

/// A client of the control socket for tests: one connection, one line out, one line in.
final class ControlClient {
    let fd: Int32

    /// The descriptor is stored only once connected: a throw before that runs
    /// no `deinit`, so the failure path's `close` is the only one. (Stored
    /// first, a failed connect closed it twice: the second `close` could end a
    /// descriptor another test had opened meanwhile, which `waitServing`'s
    /// polling made likely.)
    init(_ path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LabError("socket: \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw LabError("connect \(path): errno \(errno)")
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.fd = fd
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var rest = bytes[...]
        while !rest.isEmpty {
            let n = rest.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            rest = rest.dropFirst(n)
        }
    }

    private var pending: [UInt8] = []

    /// The next line, or nil at EOF (or after 10 s).
    func readLine() -> [UInt8]? {
        while true {
            if let i = pending.firstIndex(of: 0x0A) {
                let line = Array(pending[..<i])
                pending.removeFirst(i + 1)
                return line
            }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            pending += buffer[..<n]
        }
    }

    /// The next line, `.none` when none comes within `timeoutMilliseconds`,
    /// `.some(nil)` at EOF.
    func readLine(timeoutMilliseconds: Int32) -> [UInt8]?? {
        if pending.contains(0x0A) { return readLine() }
        var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&ready, 1, timeoutMilliseconds) > 0 else { return .none }
        return .some(readLine())
    }

    /// Sends a request and returns its outcome (a subscription's notifications
    /// read meanwhile are skipped).
    func call(_ method: String, _ params: [String: JSONValue] = [:], id: JSONValue = 1) throws -> Result<JSONValue, RPCError> {
        send(RPCWire.encode(RPCRequest(id: id, method: method, params: params)))
        while true {
            guard let line = readLine() else { throw LabError("no answer to \(method)") }
            guard case .response(let answerID, let outcome) = try RPCWire.decodeMessage(line) else { continue }
            #expect(answerID == id)
            return outcome
        }
    }

    func result(_ method: String, _ params: [String: JSONValue] = [:]) throws -> JSONValue {
        try call(method, params).get()
    }

    func error(_ method: String, _ params: [String: JSONValue] = [:]) throws -> RPCError? {
        if case .failure(let e) = try call(method, params) { return e }
        return nil
    }
}
