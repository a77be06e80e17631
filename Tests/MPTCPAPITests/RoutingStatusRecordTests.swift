import MPTCPAPI
import Testing

/// `status`'s `routing`: a route's `onlink` goes over the wire and back, and an
/// answer from a daemon that predates it reads as not on-link.
@Suite struct RoutingStatusRecordTests {
    static let onLink = RoutingStatusRecord.Route(family: "inet", table: 7300, destination: "default", gateway: "10.9.0.1",
                                                  interface: "eth0", source: nil, onLink: true)

    @Test func anOnLinkRouteRoundTripsWithItsFlag() throws {
        let record = RoutingStatusRecord(mode: "on", tables: ["eth0": 7300], routes: [Self.onLink])
        let json = record.json
        #expect(json["routes"]?.arrayValue?.first?["onlink"] == .bool(true))
        #expect(try RoutingStatusRecord(json: json).routes == [Self.onLink])
    }

    @Test func aRouteWithoutOnlinkFromAnOlderDaemonIsNotOnLinkAndAWrongTypeIsRefused() throws {
        var json = RoutingStatusRecord(mode: "on", routes: [Self.onLink]).json
        guard case .object(var members) = json, case .array(var routes)? = members["routes"], case .object(var route) = routes[0] else {
            Issue.record("not an object: \(json)")
            return
        }
        route["onlink"] = nil
        routes[0] = .object(route)
        members["routes"] = .array(routes)
        json = .object(members)
        #expect(try RoutingStatusRecord(json: json).routes.first?.onLink == false)
        route["onlink"] = .string("yes")
        members["routes"] = .array([.object(route)])
        #expect(throws: RPCError.self) { try RoutingStatusRecord(json: .object(members)) }
    }
}
