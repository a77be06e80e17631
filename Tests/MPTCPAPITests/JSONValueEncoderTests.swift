import MPTCPAPI
import Testing

/// An `Encodable` straight to a JSON value, as JSONEncoder's text decoded would be.
@Suite struct JSONValueEncoderTests {
    struct Sample: Encodable {
        var logLevel = "info"
        var socketGroup: String? = nil
        var ratio = 0.5
        var whole = 2.0
        var port: UInt16 = 443
        var names: [String] = ["a", "b"]
        var nested = Inner()
        struct Inner: Encodable { var maxConcurrent = 4 }
    }

    @Test func nilIsLeftOutIntegralNumbersAreIntegersAndKeysMayBeSnakeCase() throws {
        #expect(try JSONValueEncoder(convertToSnakeCase: true).encode(Sample()) == [
            "log_level": "info", "ratio": .number(0.5), "whole": 2, "port": 443, "names": ["a", "b"],
            "nested": ["max_concurrent": 4],
        ])
        #expect(try JSONValueEncoder().encode(Sample())["logLevel"] == "info")
    }

    @Test func aNumberThatIsNotFiniteIsRefused() {
        #expect(throws: EncodingError.self) { try JSONValueEncoder().encode([Double.nan]) }
    }
}
