#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MPTCPAPI
@testable import MPTCPDaemon
import MPTCPPolicy
import Testing

/// `policy.show`'s policy is encoded straight to a JSON value, as JSONEncoder
/// (snake-case keys) and a decode of its text gave it before.
@Suite struct PolicyJSONTests {
    static let file = """
        [daemon]
        socket_group = "mptcp"
        log_level = "debug"
        resync_interval = 30
        [kernel]
        path_manager = "userspace"
        scheduler = "default"
        limits = { subflows = 4, add_addr_accepted = 2 }
        on_exit = "keep"
        [metrics]
        listen = "[::1]:9464"
        [hooks]
        timeout = 5
        [[interface]]
        name = ["eth*", "en*"]
        role = "active"
        announce = true
        families = ["ipv4"]
        [[interface]]
        name = "wwan*"
        role = "handover"
        require_default_route = true
        [[connection]]
        name = "bulk"
        match = { side = "client", remote_port = [5201, 443], remote = ["0.0.0.0/0", "::/0"], interface = "eth*" }
        retry = { join_timeout = "2.5s" }
        """

    /// The old path: JSONEncoder's text, decoded.
    func viaText(_ policy: Policy) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try JSONDecoder().decode(JSONValue.self, from: try encoder.encode(policy))
    }

    @Test func thePolicyEncodesAsJSONEncoderWroteIt() throws {
        for policy in [Policy(), try PolicyLoader.load(Self.file, file: "p.toml")] {
            // A set's order is the hash's: compare with the sets' members in one order.
            #expect(RPCWire.text(sortingArrays(try policyJSON(policy))) == RPCWire.text(sortingArrays(try viaText(policy))))
        }
    }

    @Test func keysAreInSnakeCaseAsJSONEncoderWritesThem() {
        for key in ["socketGroup", "addAddrAcceptedLimit", "myURLValue", "addrV4Count", "x", "already_snake", "ID", "aBC", "ABc", "a1B2c"] {
            #expect(JSONValueEncoder.snakeCase(key) == Self.foundationSnakeCase(key), "\(key)")
        }
        #expect(JSONValueEncoder.snakeCase("myURLValue") == "my_url_value")
    }

    /// The key JSONEncoder writes for `key`.
    static func foundationSnakeCase(_ key: String) -> String {
        struct One: Encodable {
            let key: String
            struct K: CodingKey {
                var stringValue: String
                init(stringValue: String) { self.stringValue = stringValue }
                var intValue: Int? { nil }
                init?(intValue: Int) { nil }
            }
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: K.self)
                try c.encode(1, forKey: K(stringValue: key))
            }
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(One(key: key)),
              case .object(let members)? = try? JSONDecoder().decode(JSONValue.self, from: data) else { return "?" }
        return members.keys.first ?? "?"
    }

    func sortingArrays(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let o): return .object(o.mapValues(sortingArrays))
        case .array(let a): return .array(a.map(sortingArrays).sorted { RPCWire.text($0) < RPCWire.text($1) })
        default: return value
        }
    }
}
