import MPTCPAPI
import MPTCPKit
import Testing

/// One definition per method: the names, parameters and mutating flags the
/// daemon dispatches on and the CLI calls with (`mptcpctld(8)`, API).
@Suite struct ControlMethodsTests {
    @Test func everyMethodIsDefinedOnceWithItsParametersAndWhetherItMutates() {
        let table = ControlMethods.all.map { ($0.name, $0.mutates, $0.definition.parameters) }
        let expected: [(String, Bool, Set<String>)] = [
            ("status", false, []), ("connections", false, []), ("endpoints", false, []), ("interfaces", false, []), ("paths", false, []),
            ("policy.show", false, []), ("subscribe", false, ["kinds", "start_up"]), ("metrics", false, []), ("policy.plan", false, []),
            ("policy.reload", true, []),
            ("subflow.create", true, ["token", "local", "local_id", "interface", "remote", "remote_port", "backup"]),
            ("subflow.destroy", true, ["token", "local", "local_port", "remote", "remote_port"]),
            ("subflow.set_backup", true, ["token", "local", "local_port", "remote", "remote_port", "backup"]),
            ("announce", true, ["token", "address", "id", "port", "interface"]),
            ("remove", true, ["token", "id"]), ("interface.notify", true, ["interface", "action"]),
        ]
        #expect(table.count == expected.count)
        for (got, want) in zip(table, expected) {
            #expect(got.0 == want.0 && got.1 == want.1 && got.2 == want.2, "\(want.0)")
        }
        #expect(Set(table.map(\.0)).count == table.count, "names are unique")
        #expect(ControlMethods.definition(named: "remove")?.mutates == true)
        #expect(ControlMethods.definition(named: "frobnicate") == nil)
    }

    @Test func aRequestCarriesTheMethodsNameAndItsParameters() throws {
        let params = RemoveParams(token: 0xabcd, id: 2)
        let line = RPCWire.encode(ControlMethods.Remove.request(id: 4, params))
        #expect(String(decoding: line, as: UTF8.self)
                == #"{"id":4,"jsonrpc":"2.0","method":"remove","params":{"id":2,"token":"0000abcd"}}"# + "\n")
    }

    /// What the CLI writes, the daemon reads back as the same value.
    @Test func parametersRoundTrip() throws {
        let a = try #require(IPAddress("10.0.2.1")), b = try #require(IPAddress("10.0.1.2"))
        let create = SubflowCreateParams(token: 7, local: a, localID: 3, interface: "c2",
                                         remote: AddressAndPort(address: b, port: 7000), backup: true)
        #expect(try SubflowCreateParams(request: create.params) == create)
        let bare = SubflowCreateParams(token: 7, local: a, localID: nil, interface: nil,
                                       remote: AddressAndPort(address: b, port: 7000), backup: false)
        #expect(bare.params["local_id"] == nil && bare.params["interface"] == nil && bare.params["backup"] == false)
        #expect(try SubflowCreateParams(request: bare.params) == bare)
        let destroy = SubflowDestroyParams(token: 7, local: AddressAndPort(address: a, port: 40000),
                                           remote: AddressAndPort(address: b, port: 7000))
        #expect(try SubflowDestroyParams(request: destroy.params) == destroy)
        let flip = SubflowSetBackupParams(token: 7, local: AddressAndPort(address: a, port: 0),
                                          remote: AddressAndPort(address: b, port: 7000), backup: false)
        #expect(flip.params["local_port"] == nil, "a port of 0 is left out")
        #expect(try SubflowSetBackupParams(request: flip.params) == flip)
        let announce = AnnounceParams(token: 7, address: a, id: 9, port: 0, interface: nil)
        #expect(announce.params == ["token": "00000007", "address": "10.0.2.1", "id": 9])
        #expect(try AnnounceParams(request: announce.params) == announce)
        #expect(try RemoveParams(request: ["token": "0x7", "id": 0]) == RemoveParams(token: 7, id: 0))
        let notify = InterfaceNotifyParams(interface: nil, action: "up")
        #expect(notify.params == ["action": "up"])
        #expect(try InterfaceNotifyParams(request: notify.params) == notify)
        #expect(try SubscribeParams(request: ["kinds": ["action", "kernel", "action"]]).kinds == [.action, .kernel])
        #expect(SubscribeParams(kinds: nil).params.isEmpty)
    }

    @Test func badParametersAreRefusedWithTheParameterNamed() {
        func message(_ body: () throws -> Void) -> String? {
            do { try body(); return nil } catch let error as RPCError {
                return error.name == "invalid_params" ? error.message : "\(error)"
            } catch { return "\(error)" }
        }
        #expect(message { _ = try RemoveParams(request: ["token": "7", "id": 1, "x": 1]) }
                == "params.x: unknown parameter (known: id, token)")
        #expect(message { _ = try RemoveParams(request: ["token": "7", "id": 256]) } == "params.id: 256 is outside 0...255")
        #expect(message { _ = try AnnounceParams(request: ["token": "7", "address": "nope", "id": 1]) }
                == "params.address: \"nope\" is not an IPv4 or IPv6 address")
        #expect(message { _ = try SubflowDestroyParams(request: ["token": "7", "local": "10.0.0.1", "remote": "10.0.0.2",
                                                                 "remote_port": 1]) } == "params.local_port: required")
        #expect(message { _ = try SubflowSetBackupParams(request: ["token": "7", "local": "10.0.0.1", "remote": "10.0.0.2"]) }
                == "params.backup: required")
        #expect(message { _ = try InterfaceNotifyParams(request: ["action": "two words"]) }
                == "params.action: a word such as \"up\" or \"dhcp4-change\", not \"two words\"")
        #expect(message { _ = try SubscribeParams(request: ["kinds": []]) } == "params.kinds: expected a non-empty array of strings")
        #expect(message { _ = try SubscribeParams(request: ["kinds": ["bogus"]]) }?
                .hasSuffix(" is not one of kernel, interface, action, resync, policy, lost, hook, health") == true)
    }
}
