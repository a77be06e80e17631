import MPTCPAPI
import PropertyBased
import Testing

@Suite struct RPCTests {
    func decode(_ text: String) -> Result<RPCRequest, RPCWire.RequestFailure> {
        RPCWire.decodeRequest(Array(text.utf8))
    }

    @Test func aRequestDecodesWithItsIdMethodAndParams() throws {
        let r = try decode(#"{"jsonrpc":"2.0","id":7,"method":"status","params":{"verbose":true}}"#).get()
        #expect(r.id == .integer(7))
        #expect(r.method == "status")
        #expect(r.params == ["verbose": true])
        let noParams = try decode(#"{"jsonrpc":"2.0","id":"a","method":"status"}"#).get()
        #expect(noParams.id == "a" && noParams.params.isEmpty)
        let notification = try decode(#"{"jsonrpc":"2.0","method":"status"}"#).get()
        #expect(notification.id == nil, "no id: a notification")
    }

    @Test(arguments: [
        ("{", "parse_error", false),
        ("[1,2]", "invalid_request", false),
        ("\"status\"", "invalid_request", false),
        (#"{"jsonrpc":"1.0","id":1,"method":"status"}"#, "invalid_request", true),
        (#"{"jsonrpc":"2.0","id":1}"#, "invalid_request", true),
        (#"{"jsonrpc":"2.0","id":1,"method":""}"#, "invalid_request", true),
        (#"{"jsonrpc":"2.0","id":1,"method":5}"#, "invalid_request", true),
        (#"{"jsonrpc":"2.0","id":{"x":1},"method":"status"}"#, "invalid_request", false),
        (#"{"jsonrpc":"2.0","id":1.5,"method":"status"}"#, "invalid_request", false),
        (#"{"jsonrpc":"2.0","id":1,"method":"status","params":[1]}"#, "invalid_params", true),
        (#"{"jsonrpc":"2.0","id":1,"method":"status","params":"x"}"#, "invalid_params", true),
        (#"{"jsonrpc":"2.0","id":1,"method":"status","extra":1}"#, "invalid_request", true),
    ])
    func badRequestsGetTheirErrorAndTheIdWhenReadable(_ text: String, _ code: String, _ idKnown: Bool) {
        guard case .failure(let f) = decode(text) else {
            Issue.record("accepted: \(text)")
            return
        }
        #expect(f.error.name == code, "\(text)")
        #expect(f.id == (idKnown ? .integer(1) : .null))
    }

    @Test func responsesRoundTripWithTheirErrorCodes() throws {
        let ok = RPCWire.encodeResponse(id: 3, .success(["uptime_seconds": 12, "path": "/run/x"]))
        #expect(ok.last == 0x0A && !ok.dropLast().contains(0x0A), "one line")
        #expect(String(decoding: ok, as: UTF8.self).contains("\"/run/x\""), "slashes unescaped")
        let (id, outcome) = try RPCWire.decodeResponse(ok.dropLast())
        #expect(id == 3)
        #expect(try outcome.get() == ["uptime_seconds": 12, "path": "/run/x"])
        let denied = RPCWire.encodeResponse(id: "q", .failure(.permissionDenied("policy.reload needs root")))
        let (id2, outcome2) = try RPCWire.decodeResponse(denied)
        #expect(id2 == "q")
        guard case .failure(let e) = outcome2 else { Issue.record("no error"); return }
        #expect(e.code == -32001 && e.name == "permission_denied" && e.message == "policy.reload needs root")
    }

    @Test func paramsAreCheckedByNameAndType() throws {
        let p = try RPCParams(["token": "deadbeef", "id": 3, "backup": true], allowed: ["token", "id", "backup"])
        #expect(try p.requiredString("token") == "deadbeef")
        #expect(try p.integer("id", in: 1...255) == 3)
        #expect(try p.bool("backup") == true)
        #expect(try p.string("missing") == nil)
        #expect(throws: RPCError.invalidParams("params.token: expected an integer, got a string")) {
            try p.integer("token", in: 0...1)
        }
        #expect(throws: RPCError.invalidParams("params.id: 3 is outside 4...5")) { try p.integer("id", in: 4...5) }
        #expect(throws: RPCError.invalidParams("params.missing: required")) { try p.requiredString("missing") }
        #expect(throws: RPCError.invalidParams("params.bogus: unknown parameter (this method takes none)")) {
            try RPCParams(["bogus": 1], allowed: [])
        }
    }

    @Test func everyCharacterSurvivesTheWriter() throws {
        let all = String(String.UnicodeScalarView((0..<0x80).compactMap(Unicode.Scalar.init))) + "é€😀\u{2028}"
        let value: JSONValue = ["text": .string(all), "key \"\\\n": [.number(1.5), .number(-0.25), .integer(.min), .integer(.max)]]
        #expect(try RPCWire.decodeResponse(RPCWire.encodeResponse(id: 1, .success(value))).outcome.get() == value)
        #expect(RPCWire.text(["b": 1, "a": [true, false, nil]]) == #"{"a":[true,false,null],"b":1}"#)
        #expect(RPCWire.text(.number(.nan)) == "null", "no non-finite numbers in JSON")
    }

    /// Any value the API can carry survives a response's encoding and decoding.
    @Test func anyValueRoundTrips() async {
        let texts = ["", "a", "ü", "\"", "\\", "\n", "/run/x", "😀", "\u{0}"]
        await propertyCheck(count: 500, input: Gen.int64(), Gen.int(in: 0...8), Gen.int(in: 0...5), Gen.bool()) { i, t, shape, flag in
            let text = texts[t]
            let leaves: [JSONValue] = [.integer(i), .string(text), .bool(flag), .null]
            let v: JSONValue
            switch shape {
            case 0...3: v = leaves[shape]
            case 4: v = .array(leaves)
            default: v = .object(Dictionary(uniqueKeysWithValues: zip([text, "k1", "k2", "k3"].map { $0 + "!" }, leaves)))
            }
            let line = RPCWire.encodeResponse(id: 1, .success(v))
            let decoded = try RPCWire.decodeResponse(line)
            #expect(try decoded.outcome.get() == v)
        }
    }
}
