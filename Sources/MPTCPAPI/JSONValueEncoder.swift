/// Encodes an `Encodable` value straight to a `JSONValue`, with what
/// `JSONEncoder` followed by a `JSONValue` decode would give (integral numbers
/// as integers, nil optionals left out, keys optionally in snake case as
/// `.convertToSnakeCase` writes them), without the bytes in between. The daemon
/// uses it for the policy (`policy.show`, the reload diff).
public struct JSONValueEncoder: Sendable {
    /// `socketGroup` → `socket_group`, as `JSONEncoder.KeyEncodingStrategy.convertToSnakeCase`.
    public var convertToSnakeCase = false

    public init(convertToSnakeCase: Bool = false) { self.convertToSnakeCase = convertToSnakeCase }

    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        let slot = Slot()
        try value.encode(to: ValueEncoder(slot: slot, snakeCase: convertToSnakeCase, codingPath: []))
        return slot.resolved
    }

    /// `key` in snake case, by JSONEncoder's own steps: a word ends before an
    /// upper-case letter; upper-case letters followed by lower-case ones are an
    /// acronym and the next word (`myURLValue` → `my_url_value`); lower-cased,
    /// joined by `_`.
    public static func snakeCase(_ key: String) -> String {
        let chars = Array(key)
        guard !chars.isEmpty else { return key }
        func first(_ test: (Character) -> Bool, from start: Int) -> Int? {
            start < chars.count ? chars[start...].firstIndex(where: test) : nil
        }
        var words: [Range<Int>] = []
        var wordStart = 0
        var searchStart = 1
        while let upper = first(\.isUppercase, from: searchStart) {
            words.append(wordStart..<upper)
            guard let lower = first(\.isLowercase, from: upper) else {
                wordStart = upper
                break
            }
            if lower == upper + 1 {
                wordStart = upper
            } else {
                words.append(upper..<(lower - 1))
                wordStart = lower - 1
            }
            searchStart = lower + 1
        }
        words.append(wordStart..<chars.count)
        return words.map { String(chars[$0]).lowercased() }.joined(separator: "_")
    }
}

/// Where one value is written: a scalar, or an object or array of slots.
private final class Slot {
    var value: JSONValue = .null
    var object: [String: Slot]?
    var array: [Slot]?

    var resolved: JSONValue {
        if let object { return .object(object.mapValues(\.resolved)) }
        if let array { return .array(array.map(\.resolved)) }
        return value
    }

    /// A number as the JSON text's decode gives it back: integral ones as integers.
    static func number(_ d: Double, _ path: [any CodingKey]) throws -> JSONValue {
        guard d.isFinite else {
            throw EncodingError.invalidValue(d, .init(codingPath: path, debugDescription: "not a finite number"))
        }
        if d == d.rounded(), abs(d) < 9.0e15 { return .integer(Int64(d)) }
        return .number(d)
    }

    static func integer<I: BinaryInteger>(_ i: I) -> JSONValue {
        Int64(exactly: i).map { .integer($0) } ?? .number(Double(i))
    }
}

private struct ValueEncoder: Encoder {
    let slot: Slot
    let snakeCase: Bool
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if slot.object == nil { slot.object = [:] }
        return KeyedEncodingContainer(KeyedSlots<Key>(slot: slot, snakeCase: snakeCase, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if slot.array == nil { slot.array = [] }
        return UnkeyedSlots(slot: slot, snakeCase: snakeCase, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleSlot(encoder: self) }
}

private struct KeyedSlots<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: Slot
    let snakeCase: Bool
    let codingPath: [any CodingKey]

    private func child(_ key: Key) -> Slot {
        let child = Slot()
        slot.object?[snakeCase ? JSONValueEncoder.snakeCase(key.stringValue) : key.stringValue] = child
        return child
    }

    mutating func encodeNil(forKey key: Key) throws { child(key).value = .null }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try value.encode(to: ValueEncoder(slot: child(key), snakeCase: snakeCase, codingPath: codingPath + [key]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey> {
        ValueEncoder(slot: child(key), snakeCase: snakeCase, codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        ValueEncoder(slot: child(key), snakeCase: snakeCase, codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { superEncoder(forKey: Key(stringValue: "super")!) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        ValueEncoder(slot: child(key), snakeCase: snakeCase, codingPath: codingPath + [key])
    }
}

private struct UnkeyedSlots: UnkeyedEncodingContainer {
    let slot: Slot
    let snakeCase: Bool
    let codingPath: [any CodingKey]
    var count: Int { slot.array?.count ?? 0 }

    private func next() -> Slot {
        let child = Slot()
        slot.array?.append(child)
        return child
    }

    mutating func encodeNil() throws { next().value = .null }
    mutating func encode<T: Encodable>(_ value: T) throws {
        try value.encode(to: ValueEncoder(slot: next(), snakeCase: snakeCase, codingPath: codingPath))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        ValueEncoder(slot: next(), snakeCase: snakeCase, codingPath: codingPath).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        ValueEncoder(slot: next(), snakeCase: snakeCase, codingPath: codingPath).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { ValueEncoder(slot: next(), snakeCase: snakeCase, codingPath: codingPath) }
}

private struct SingleSlot: SingleValueEncodingContainer {
    let encoder: ValueEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil() throws { encoder.slot.value = .null }
    mutating func encode(_ value: Bool) throws { encoder.slot.value = .bool(value) }
    mutating func encode(_ value: String) throws { encoder.slot.value = .string(value) }
    mutating func encode(_ value: Double) throws { encoder.slot.value = try Slot.number(value, codingPath) }
    mutating func encode(_ value: Float) throws { encoder.slot.value = try Slot.number(Double(value), codingPath) }
    mutating func encode(_ value: Int) throws { encoder.slot.value = Slot.integer(value) }
    mutating func encode(_ value: Int8) throws { encoder.slot.value = Slot.integer(value) }
    mutating func encode(_ value: Int16) throws { encoder.slot.value = Slot.integer(value) }
    mutating func encode(_ value: Int32) throws { encoder.slot.value = Slot.integer(value) }
    mutating func encode(_ value: Int64) throws { encoder.slot.value = Slot.integer(value) }
    mutating func encode(_ value: UInt) throws { encoder.slot.value = Slot.integer(value) }
    mutating func encode(_ value: UInt8) throws { encoder.slot.value = Slot.integer(value) }
    mutating func encode(_ value: UInt16) throws { encoder.slot.value = Slot.integer(value) }
    mutating func encode(_ value: UInt32) throws { encoder.slot.value = Slot.integer(value) }
    mutating func encode(_ value: UInt64) throws { encoder.slot.value = Slot.integer(value) }
    mutating func encode<T: Encodable>(_ value: T) throws { try value.encode(to: encoder) }
}
