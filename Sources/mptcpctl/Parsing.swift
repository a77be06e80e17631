import ArgumentParser
import MPTCPKit

/// An address argument (`10.0.0.1`, `2001:db8::1`).
struct AddressArgument: ExpressibleByArgument {
    var value: IPAddress
    init?(argument: String) {
        guard let v = IPAddress(argument) else { return nil }
        value = v
    }
    static var defaultCompletionKind: CompletionKind { .default }
}

/// `ADDR`, `IPv4:PORT` or `[IPv6]:PORT`.
struct AddressPortArgument: ExpressibleByArgument {
    var value: AddressAndPort
    init?(argument: String) {
        guard let v = AddressAndPort(parsing: argument) else { return nil }
        value = v
    }
}

/// A token: 8 hex digits as `ip mptcp monitor` prints it, or `0x`-prefixed hex.
struct TokenArgument: ExpressibleByArgument {
    var value: UInt32
    init?(argument: String) {
        guard let v = parseToken(argument) else { return nil }
        value = v
    }
}

/// An endpoint chosen by id (1-255) or by address.
enum EndpointSelector: ExpressibleByArgument {
    case id(UInt8)
    case address(IPAddress)

    init?(argument: String) {
        if let n = UInt8(argument), n > 0 {
            self = .id(n)
        } else if let a = IPAddress(argument) {
            self = .address(a)
        } else {
            return nil
        }
    }

    func resolve(_ pm: PathManager) throws -> UInt8 {
        switch self {
        case .id(let n): return n
        case .address(let a): return try pm.endpointID(for: a)
        }
    }
}

/// Checks an id given with `--id` / `--local-id`.
func checkID(_ id: Int?, option: String, allowZero: Bool = false) throws -> UInt8? {
    guard let id else { return nil }
    guard (allowZero ? 0 : 1)...255 ~= id else {
        throw UsageError("\(option) must be \(allowZero ? 0 : 1)-255, not \(id)")
    }
    return UInt8(id)
}

/// Checks a port given with `--port`.
func checkPort(_ port: Int?) throws -> UInt16 {
    guard let port else { return 0 }
    guard 1...65535 ~= port else { throw UsageError("--port must be 1-65535, not \(port)") }
    return UInt16(port)
}

/// Resolves an interface name in the namespace.
func interfaceIndex(_ name: String?, namespace: NetworkNamespace) throws -> Int32 {
    guard let name else { return 0 }
    let table = try InterfaceTable.read(namespace: namespace)
    guard let index = table.index(of: name) else {
        throw MPTCPError(code: .invalidArgument, operation: "resolve interface \(name)",
                         detail: "no interface named '\(name)' in namespace \(namespace)")
    }
    return index
}
