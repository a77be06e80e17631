import MPTCPKit

/// Addresses held in a Codable type as their text (`"192.0.2.1"`): MPTCPKit's
/// `IPAddress` is not Codable (the kernel layer has no wire format of its own),
/// while the policy is encoded for `policy.show` and reload differences.
@propertyWrapper
public struct AddressList: Hashable, Sendable, Codable {
    public var wrappedValue: [IPAddress]

    public init(wrappedValue: [IPAddress]) { self.wrappedValue = wrappedValue }

    public init(from decoder: Decoder) throws {
        let texts = try decoder.singleValueContainer().decode([String].self)
        wrappedValue = try texts.map { text in
            guard let address = IPAddress(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an address: \(text)"))
            }
            return address
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(wrappedValue.map(\.description))
    }
}
