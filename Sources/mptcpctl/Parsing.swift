import ArgumentParser
import MPTCPKit

/// Why a command-line value did not parse; argument-parser prints it after
/// "The value 'X' is invalid for '<name>': ".
struct ArgumentFormatError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// An address argument (`10.0.0.1`, `2001:db8::1`).
struct AddressArgument {
    var value: IPAddress

    static func parse(_ argument: String) throws -> AddressArgument {
        guard let v = IPAddress(argument) else {
            throw ArgumentFormatError("expected an IPv4 address (10.0.1.1) or an IPv6 address (2001:db8::1)")
        }
        return AddressArgument(value: v)
    }
}

/// `ADDR`, `IPv4:PORT` or `[IPv6]:PORT`.
struct AddressPortArgument {
    var value: AddressAndPort

    static func parse(_ argument: String) throws -> AddressPortArgument {
        guard let v = AddressAndPort(parsing: argument) else {
            throw ArgumentFormatError("expected ADDR:PORT (10.0.1.2:443) or [IPv6]:PORT ([2001:db8::2]:443), port 1-65535")
        }
        return AddressPortArgument(value: v)
    }
}

/// A token: 8 hex digits as `ip mptcp monitor` prints it, or `0x`-prefixed hex.
struct TokenArgument {
    var value: UInt32

    static func parse(_ argument: String) throws -> TokenArgument {
        guard let v = parseToken(argument) else {
            throw ArgumentFormatError("expected 8 hex digits as 'mptcpctl monitor' and 'connections' print it, or 0x-prefixed hex")
        }
        return TokenArgument(value: v)
    }
}

/// An endpoint chosen by id (1-255) or by address.
enum EndpointSelector {
    case id(UInt8)
    case address(IPAddress)

    static func parse(_ argument: String) throws -> EndpointSelector {
        if let n = UInt8(argument), n > 0 { return .id(n) }
        if let a = IPAddress(argument) { return .address(a) }
        throw ArgumentFormatError("expected an endpoint id (1-255) or an IPv4/IPv6 address")
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
