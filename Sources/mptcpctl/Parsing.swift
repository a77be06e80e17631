import ArgumentParser
import MPTCPKit

// The one place where command-line text becomes numbers, addresses, tokens and
// endpoint choices. Every refusal names the value and the form or range allowed;
// Main puts the command the user typed in front of it.

/// Why a command-line value did not parse; argument-parser prints it after
/// "The value 'X' is invalid for '<name>': ".
struct ArgumentFormatError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A whole number in a range, e.g. an id (1-255) or a limit (0-4294967295).
/// Options taking one use `parsing: .unconditional` (and Main joins `--opt -1`
/// into `--opt=-1`), so a negative number reaches this check instead of being
/// taken for an option.
enum NumberArgument {
    static func parse<T: FixedWidthInteger>(_ text: String, in range: ClosedRange<T>, _ what: String) throws -> T {
        let digits = text.hasPrefix("-") || text.hasPrefix("+") ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = T(text), range.contains(value) else {
            throw ArgumentFormatError("expected \(what), a whole number \(range.lowerBound)-\(range.upperBound)")
        }
        return value
    }

    /// An endpoint or address id, 1-255.
    static func id(_ text: String) throws -> UInt8 { try parse(text, in: 1...255, "an id") }
    /// A port, 1-65535.
    static func port(_ text: String) throws -> UInt16 { try parse(text, in: 1...65535, "a port") }
    /// An address id on a userspace-PM connection, 0-255 (0 is the initial subflow's address).
    static func addressID(_ text: String) throws -> UInt8 { try parse(text, in: 0...255, "an address id") }
    /// A count of events, 1 or more.
    static func count(_ text: String) throws -> Int { try parse(text, in: 1...Int.max, "a count") }
}

/// Where an address given on the command line must be usable as one end of a
/// subflow: a unicast address of this host or the peer, written as the kernel
/// stores it. The daemon skips the others, so they are refused here.
func unicastProblem(_ address: IPAddress) -> String? {
    let b = address.bytes
    if address.isUnspecified { return "the unspecified address" }
    switch address {
    case .v4:
        if b == [255, 255, 255, 255] { return "the broadcast address" }
        if b[0] & 0xF0 == 0xE0 { return "a multicast address (224.0.0.0/4)" }
    case .v6:
        if b[0] == 0xFF { return "a multicast address (ff00::/8)" }
        if address.unmapped != address { return "an IPv4-mapped IPv6 address, which the kernel stores as IPv4: write \(address.unmapped)" }
    }
    return nil
}

/// Splits `fe80::1%eth0`: a zone is an interface, which this tool takes as `--dev`.
private func refusingZone(_ text: String) throws -> String {
    guard let percent = text.firstIndex(of: "%") else { return text }
    // `fe80::1%eth0` or, with a port, `[fe80::1%eth0]:80`.
    let zone = text[text.index(after: percent)...].prefix { $0 != "]" }
    let address = text[..<percent].drop { $0 == "[" }
    let rest = text[text.index(after: percent)...].drop { $0 != "]" }
    throw ArgumentFormatError("a %zone is not taken: write the address alone (\(rest.isEmpty ? String(address) : "[\(address)\(rest)")) "
                              + "and bind to the interface with --dev \(zone) where the command has --dev")
}

/// A local or peer address (`10.0.0.1`, `2001:db8::1`): unicast, without a zone.
struct AddressArgument {
    var value: IPAddress

    static func parse(_ argument: String) throws -> AddressArgument {
        let text = try refusingZone(argument.trimmingBrackets)
        guard let v = IPAddress(text) else {
            throw ArgumentFormatError("expected an IPv4 address (10.0.1.1) or an IPv6 address (2001:db8::1)")
        }
        if let problem = unicastProblem(v) { throw ArgumentFormatError("\(argument) is \(problem) (expected a unicast address)") }
        return AddressArgument(value: v)
    }

    /// A local address to listen on: unicast, or the unspecified address (0.0.0.0, ::)
    /// for every address of the family.
    static func parseListening(_ argument: String) throws -> AddressArgument {
        let text = try refusingZone(argument.trimmingBrackets)
        if let v = IPAddress(text), v.isUnspecified { return AddressArgument(value: v) }
        do { return try parse(argument) } catch let error as ArgumentFormatError {
            throw ArgumentFormatError(error.description + ", or 0.0.0.0 or :: for every address")
        }
    }
}

/// `ADDR`, `IPv4:PORT` or `[IPv6]:PORT`, unicast.
struct AddressPortArgument {
    var value: AddressAndPort

    static func parse(_ argument: String) throws -> AddressPortArgument {
        let form = "expected ADDR, ADDR:PORT (10.0.1.2:443) or [IPv6]:PORT ([2001:db8::2]:443), port 1-65535"
        _ = try refusingZone(argument)
        guard let v = AddressAndPort(parsing: argument) else { throw ArgumentFormatError(form) }
        if let problem = unicastProblem(v.address) { throw ArgumentFormatError("\(v.address) is \(problem) (expected a unicast address)") }
        return AddressPortArgument(value: v)
    }
}

private extension String {
    /// `[2001:db8::1]` as `2001:db8::1`: people copy addresses from `ADDR:PORT` forms.
    var trimmingBrackets: String {
        hasPrefix("[") && hasSuffix("]") && !contains("]:") ? String(dropFirst().dropLast()) : self
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

/// `--raw-flags 0x…`: endpoint flag bits sent as they are, named by this version or not
/// (for probing what a kernel supports).
struct RawFlagsArgument {
    var value: EndpointFlags

    static func parse(_ argument: String) throws -> RawFlagsArgument {
        let form = "expected 0x followed by 1-8 hex digits (0x40), a 32-bit mask of MPTCP_PM_ADDR_FLAG_* bits"
        guard argument.lowercased().hasPrefix("0x") else { throw ArgumentFormatError(form) }
        let digits = argument.dropFirst(2)
        guard (1...8).contains(digits.count), digits.allSatisfy(\.isHexDigit), let raw = UInt32(digits, radix: 16) else {
            throw ArgumentFormatError(form)
        }
        return RawFlagsArgument(value: EndpointFlags(rawValue: raw))
    }
}

/// An endpoint chosen by id (1-255), by address, or by `ADDR:PORT` when several share an address.
enum EndpointSelector: CustomStringConvertible {
    case id(UInt8)
    case address(AddressAndPort)

    static func parse(_ argument: String) throws -> EndpointSelector {
        if argument.allSatisfy({ $0.isASCII && $0.isNumber }) {
            guard let n = UInt8(argument), n > 0 else {
                throw ArgumentFormatError("expected an endpoint id 1-255, an address, or ADDR:PORT")
            }
            return .id(n)
        }
        _ = try refusingZone(argument)
        if let a = AddressAndPort(parsing: argument.trimmingBrackets) ?? AddressAndPort(parsing: argument) { return .address(a) }
        throw ArgumentFormatError("expected an endpoint id 1-255, an address (10.0.1.1, 2001:db8::1), or ADDR:PORT (10.0.1.1:6000)")
    }

    var description: String {
        switch self {
        case .id(let n): return String(n)
        case .address(let a): return a.description
        }
    }

    /// The one endpoint this names. `verb` is what the user asked ("delete endpoint"):
    /// a lookup failing on their behalf is reported under it.
    func resolve(_ pm: PathManager, for verb: String) throws -> Endpoint {
        let operation = "\(verb) \(self)"
        switch self {
        case .id(let n):
            return try rephrasing(operation) { try pm.endpoint(id: n) }
        case .address(let a):
            let matches = try rephrasing(operation) { try pm.endpoints() }
                .filter { $0.address == a.address && (a.port == 0 || $0.port == a.port) }
            guard let only = matches.first else {
                throw MPTCPError(code: .notFound, operation: operation, detail: "no endpoint has this address",
                                 hint: "list them with 'mptcpctl endpoint show'")
            }
            guard matches.count == 1 else {
                let candidates = matches.map { "id \($0.id) (\(AddressAndPort(address: $0.address, port: $0.port)))" }
                throw UsageError("\(a) names \(matches.count) endpoints: \(candidates.joined(separator: ", ")); "
                                 + "give the id or ADDR:PORT", code: .ambiguous)
            }
            return only
        }
    }
}

/// Runs a lookup made for the command `operation`, so its failure names what the user asked
/// (`set endpoint 99`) rather than the lookup (`show endpoint 99`).
func rephrasing<T>(_ operation: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch var error as MPTCPError {
        error.operation = operation
        throw error
    }
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

/// The one subflow of `token` that `--local`/`--remote` name (a port left out matches any).
/// Several matches are refused with the list: the kernel would pick one silently.
func resolveSubflow(token: UInt32, local: AddressAndPort, remote: AddressAndPort,
                    namespace: NetworkNamespace) throws -> (local: AddressAndPort, remote: AddressAndPort) {
    guard local.port == 0 || remote.port == 0 else { return (local, remote) }
    let connection = try ConnectionTable.read(namespace: namespace).first { $0.token == token }
    let matches = (connection?.subflows ?? []).filter {
        $0.localAddress == local.address && (local.port == 0 || $0.localPort == local.port)
            && $0.remoteAddress == remote.address && (remote.port == 0 || $0.remotePort == remote.port)
    }
    // None: the kernel says why (no such connection, no such subflow).
    guard matches.count > 1 else {
        guard let only = matches.first else { return (local, remote) }
        return (AddressAndPort(address: only.localAddress, port: only.localPort),
                AddressAndPort(address: only.remoteAddress, port: only.remotePort))
    }
    let candidates = matches.map {
        "\(AddressAndPort(address: $0.localAddress, port: $0.localPort)) -> \(AddressAndPort(address: $0.remoteAddress, port: $0.remotePort))"
    }
    throw UsageError("--local \(local) --remote \(remote) match \(matches.count) subflows of \(formatToken(token)): "
                     + "\(candidates.joined(separator: ", ")); give both ports to pick one", code: .ambiguous)
}
