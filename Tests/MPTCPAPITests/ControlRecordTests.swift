import MPTCPAPI
import MPTCPKit
import Testing

/// One record type per shape, written by the daemon and read by the CLI: the
/// exact JSON the kernel tests and scripts parse, and a round trip back.
@Suite struct ControlRecordTests {
    func text(_ record: some ControlRecord) -> String { RPCWire.text(record.json) }

    /// The record read back from its line is the record.
    func roundTrips<R: ControlRecord>(_ record: R) throws -> Bool {
        let line = RPCWire.encodeResponse(id: 1, .success(record.json))
        let (_, outcome) = try RPCWire.decodeResponse(line.dropLast())
        return try R(json: outcome.get()) == record
    }

    func endpoint(_ text: String, _ port: UInt16) throws -> AddressAndPort {
        AddressAndPort(address: try #require(IPAddress(text)), port: port)
    }

    @Test func aConnectionHasItsSubflowsAndThePolicyOnlyWhenManaged() throws {
        let subflow = SubflowRecord(local: try endpoint("10.0.2.1", 40000), remote: try endpoint("10.0.1.2", 7000),
                                    localID: 2, remoteID: 0, backup: true, interface: "c2", state: "established")
        var connection = ConnectionRecord(token: 0x1a2b, side: "client", local: try endpoint("10.0.1.1", 39000),
                                          remote: try endpoint("10.0.1.2", 7000), subflows: [subflow])
        #expect(text(connection) == #"{"local_address":"10.0.1.1","local_port":39000,"remote_address":"10.0.1.2","#
                + #""remote_port":7000,"side":"client","subflows":[{"backup":true,"interface":"c2","local_address":"10.0.2.1","#
                + #""local_id":2,"local_port":40000,"remote_address":"10.0.1.2","remote_id":0,"remote_port":7000,"#
                + #""state":"established"}],"token":"00001a2b"}"#)
        #expect(try roundTrips(connection))
        connection.policy = "bulk"
        connection.subflows[0].interface = nil
        #expect(connection.json["policy"] == "bulk" && connection.subflows[0].json["interface"] == nil)
        #expect(try roundTrips(connection))
    }

    @Test func anInterfaceIsNamedOrShownByIndex() {
        #expect(interfaceLabel(9) { _ in nil } == "if9")
        #expect(interfaceLabel(9) { $0 == 9 ? "c2" : nil } == "c2")
    }

    @Test func anEndpointShowsPortAndInterfaceOnlyWhenSetAndOwnedOnlyFromTheDaemon() throws {
        let address = try #require(IPAddress("10.0.2.1"))
        let cli = EndpointRecord(id: 3, address: address, port: 0, flags: ["subflow", "backup"], interface: nil, owned: nil)
        #expect(text(cli) == #"{"address":"10.0.2.1","flags":["subflow","backup"],"id":3}"#)
        let daemon = EndpointRecord(id: 3, address: address, port: 8000, flags: ["signal"], interface: "c2", owned: true)
        #expect(text(daemon) == #"{"address":"10.0.2.1","flags":["signal"],"id":3,"interface":"c2","owned":true,"port":8000}"#)
        #expect(try roundTrips(cli) && roundTrips(daemon))
    }

    @Test func statusWritesNullForWhatItCannotTell() throws {
        let status = StatusRecord(version: "0.2.0", apiVersion: 1, pid: 42, namespace: "host", uptimeSeconds: 1.25,
                                  pathManager: "kernel", scheduler: nil, config: "/etc/m.toml",
                                  configLoadedAt: "2026-01-02T03:04:05Z", reloads: 0, ownedEndpoints: 2, connections: nil,
                                  userspacePathManager: false, apiRequests: 5)
        #expect(text(status) == #"{"api_requests":5,"api_version":1,"config":"/etc/m.toml","#
                + #""config_loaded_at":"2026-01-02T03:04:05Z","connections":null,"namespace":"host","owned_endpoints":2,"#
                + #""path_manager":"kernel","pid":42,"reloads":0,"scheduler":null,"uptime_seconds":1.25,"#
                + #""userspace_path_manager":false,"version":"0.2.0"}"#)
        #expect(try roundTrips(status))
    }

    @Test func anInterfaceWithoutARuleHasANullRoleAndRule() throws {
        let record = InterfaceRecord(name: "c1", index: 2, up: true, operState: "up", role: nil, rule: nil,
                                     addresses: ["10.0.1.1/24"])
        #expect(text(record) == #"{"addresses":["10.0.1.1/24"],"index":2,"name":"c1","oper_state":"up","role":null,"rule":null,"up":true}"#)
        #expect(try roundTrips(record))
    }

    @Test func policyResultsKeepTheirShapes() throws {
        let reload = ReloadRecord(config: "/p.toml", changes: [
            PolicyChangeRecord(key: "interface[2]", old: nil, new: ["role": "off"]),
            PolicyChangeRecord(key: "kernel.scheduler", old: "default", new: nil),
        ])
        #expect(text(reload) == #"{"changes":[{"key":"interface[2]","new":{"role":"off"},"old":null},"#
                + #"{"key":"kernel.scheduler","new":null,"old":"default"}],"config":"/p.toml","reloading":true}"#)
        #expect(try roundTrips(reload))
        let plan = PlanRecord(plan: ["changes": [], "warnings": ["w"], "text": "dropped"], text: "nothing to do\n", pending: 0)
        #expect(text(plan) == #"{"changes":[],"pending":0,"text":"nothing to do\n","warnings":["w"]}"#)
        #expect(try roundTrips(plan))
        let show = PolicyShowRecord(config: "/p.toml", loadedAt: "t", policy: ["daemon": ["log_level": "info"]])
        #expect(text(show) == #"{"config":"/p.toml","loaded_at":"t","policy":{"daemon":{"log_level":"info"}}}"#)
        #expect(try roundTrips(show))
    }

    @Test func commandResultsKeepTheirShapes() throws {
        let created = SubflowCreatedRecord(token: 7, local: try #require(IPAddress("10.0.2.1")), localID: 2,
                                           remote: try endpoint("10.0.1.2", 7000), backup: false)
        #expect(text(created) == #"{"backup":false,"local":"10.0.2.1","local_id":2,"remote":"10.0.1.2","remote_port":7000,"token":"00000007"}"#)
        #expect(try roundTrips(created))
        #expect(text(SubflowDestroyedRecord()) == #"{"destroyed":true}"#)
        #expect(text(BackupSetRecord(backup: true)) == #"{"backup":true}"#)
        #expect(text(AnnouncedRecord()) == #"{"announced":true}"#)
        #expect(text(RemovedRecord()) == #"{"removed":true}"#)
        #expect(text(InterfaceNotifiedRecord(interface: nil, action: nil)) == #"{"interface":null,"queued":true}"#)
        let notified = InterfaceNotifiedRecord(interface: "c2", action: "up")
        #expect(text(notified) == #"{"action":"up","interface":"c2","queued":true}"#)
        #expect(try roundTrips(notified))
        #expect(text(SubscriptionRecord(kinds: [.kernel, .lost], queue: 1024)) == #"{"kinds":["kernel","lost"],"queue":1024,"subscribed":true}"#)
        #expect(text(MetricsRecord(text: "a 1\n")) == #"{"text":"a 1\n"}"#)
    }

    @Test func aResultOfTheWrongShapeIsAnErrorNamingTheMember() {
        do {
            _ = try StatusRecord(json: ["version": 1])
            Issue.record("read")
        } catch {
            #expect(error.message == "the daemon's answer: status.version: expected a string, got a number")
        }
        #expect(throws: RPCError.self) { try [ConnectionRecord](json: ["token": "1"]) }
    }
}
