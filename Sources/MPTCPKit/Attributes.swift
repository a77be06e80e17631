// Netlink attributes (TLVs) in pure Swift, so every decoder can be unit- and
// fuzz-tested without a kernel. Layout: u16 length (header included), u16 type,
// value, padding to 4 bytes.

/// One netlink attribute: its type (without the nested/byte-order bits) and raw value.
public struct NetlinkAttribute: Equatable, Hashable, Sendable {
    /// The attribute type, with `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER` masked off.
    public var type: UInt16
    /// The value bytes, without header or padding.
    public var value: [UInt8]

    public init(type: UInt16, value: [UInt8]) {
        self.type = type
        self.value = value
    }
}

/// Why a netlink message or attribute could not be decoded.
public struct DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

// MARK: - Encoding

/// Builds a run of attributes; nests are written with `nest(_:_:)`.
struct AttributeWriter {
    private(set) var bytes: [UInt8] = []

    mutating func put(_ type: UInt16, _ value: [UInt8]) {
        let length = 4 + value.count
        bytes.append(contentsOf: le16(UInt16(length)))
        bytes.append(contentsOf: le16(type))
        bytes.append(contentsOf: value)
        bytes.append(contentsOf: [UInt8](repeating: 0, count: padding(length)))
    }

    /// Attributes already encoded (by another writer).
    mutating func append(encoded: [UInt8]) { bytes.append(contentsOf: encoded) }

    mutating func putU8(_ type: UInt16, _ value: UInt8) { put(type, [value]) }
    mutating func putU16(_ type: UInt16, _ value: UInt16) { put(type, le16(value)) }
    mutating func putBE16(_ type: UInt16, _ value: UInt16) { put(type, [UInt8(value >> 8), UInt8(value & 0xff)]) }
    mutating func putU32(_ type: UInt16, _ value: UInt32) { put(type, le32(value)) }
    mutating func putS32(_ type: UInt16, _ value: Int32) { put(type, le32(UInt32(bitPattern: value))) }

    /// A nested attribute. libnl 3.7 does not set `NLA_F_NESTED` either; the
    /// kernel accepts both, so we set it as newer kernels prefer.
    mutating func nest(_ type: UInt16, _ build: (inout AttributeWriter) -> Void) {
        var inner = AttributeWriter()
        build(&inner)
        put(type | NL.fNested, inner.bytes)
    }
}

func padding(_ length: Int) -> Int { (4 - length % 4) % 4 }
/// Host order on every Linux target Swift supports (little endian).
func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * UInt32($0))) & 0xff) } }

// MARK: - Decoding

/// Splits a buffer into attributes. Truncated or oversized attributes are errors;
/// trailing bytes shorter than a header (padding) are tolerated as the kernel does.
func parseAttributes<C: RandomAccessCollection>(_ buffer: C) throws(DecodeError) -> [NetlinkAttribute]
where C.Element == UInt8, C.Index == Int {
    var result: [NetlinkAttribute] = []
    var offset = buffer.startIndex
    while buffer.endIndex - offset >= 4 {
        let length = Int(readLE16(buffer, offset))
        let type = readLE16(buffer, offset + 2) & NL.attrTypeMask
        guard length >= 4 else {
            throw DecodeError("attribute \(type) has length \(length), shorter than its header")
        }
        guard length <= buffer.endIndex - offset else {
            throw DecodeError("attribute \(type) claims \(length) bytes but only \(buffer.endIndex - offset) remain")
        }
        result.append(NetlinkAttribute(type: type, value: Array(buffer[(offset + 4)..<(offset + length)])))
        offset += length + padding(length)
    }
    return result
}

func readLE16<C: RandomAccessCollection>(_ b: C, _ at: Int) -> UInt16 where C.Element == UInt8, C.Index == Int {
    UInt16(b[at]) | UInt16(b[at + 1]) << 8
}

func readLE32<C: RandomAccessCollection>(_ b: C, _ at: Int) -> UInt32 where C.Element == UInt8, C.Index == Int {
    UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
}

func readLE64<C: RandomAccessCollection>(_ b: C, _ at: Int) -> UInt64 where C.Element == UInt8, C.Index == Int {
    UInt64(readLE32(b, at)) | UInt64(readLE32(b, at + 4)) << 32
}

extension NetlinkAttribute {
    func u8(_ what: String) throws(DecodeError) -> UInt8 {
        guard value.count == 1 else { throw DecodeError("\(what): expected 1 byte, got \(value.count)") }
        return value[0]
    }

    func u16(_ what: String) throws(DecodeError) -> UInt16 {
        guard value.count == 2 else { throw DecodeError("\(what): expected 2 bytes, got \(value.count)") }
        return readLE16(value, 0)
    }

    func be16(_ what: String) throws(DecodeError) -> UInt16 {
        guard value.count == 2 else { throw DecodeError("\(what): expected 2 bytes, got \(value.count)") }
        return UInt16(value[0]) << 8 | UInt16(value[1])
    }

    func u32(_ what: String) throws(DecodeError) -> UInt32 {
        guard value.count == 4 else { throw DecodeError("\(what): expected 4 bytes, got \(value.count)") }
        return readLE32(value, 0)
    }

    func s32(_ what: String) throws(DecodeError) -> Int32 {
        Int32(bitPattern: try u32(what))
    }

    /// A NUL-terminated (or unterminated) string value.
    func string() -> String {
        let bytes = value.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }

    func nested() throws(DecodeError) -> [NetlinkAttribute] {
        try parseAttributes(value)
    }
}
