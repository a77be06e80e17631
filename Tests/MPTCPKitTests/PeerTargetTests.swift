@testable import MPTCPKit
import Testing

/// `doctor --peer`'s argument: a link-local IPv6 peer is taken only with the
/// interface it is on (`%zone`), which becomes the socket's scope id.
struct PeerTargetTests {
    func problem(_ text: String) -> String? {
        do { _ = try PeerTarget(parsing: text); return nil } catch { return error.description }
    }

    @Test func aZonedLinkLocalPeerIsTakenWithAndWithoutAPort() throws {
        let bare = try PeerTarget(parsing: "fe80::1%eth0")
        #expect(bare == PeerTarget(endpoint: AddressAndPort(address: IPAddress("fe80::1")!), zone: "eth0"))
        let ported = try PeerTarget(parsing: "[fe80::1%eth0]:443")
        #expect(ported == PeerTarget(endpoint: AddressAndPort(address: IPAddress("fe80::1")!, port: 443), zone: "eth0"))
    }

    @Test func globalPeersNeedNoZone() throws {
        #expect(try PeerTarget(parsing: "10.0.1.2:80") == PeerTarget(endpoint: AddressAndPort(address: IPAddress("10.0.1.2")!, port: 80)))
        #expect(try PeerTarget(parsing: "[2001:db8::2]:443").zone == nil)
        #expect(try PeerTarget(parsing: "2001:db8::2").endpoint.port == 0)
    }

    @Test(arguments: ["fe80::1", "[fe80::1]:80", "febf::1"])
    func aLinkLocalPeerWithoutAZoneIsRefusedSayingTheZoneIsNeeded(_ text: String) {
        let message = problem(text)
        #expect(message?.contains("is link-local") == true, "\(String(describing: message))")
        #expect(message?.contains("%IFACE") == true)
    }

    @Test(arguments: ["10.0.1.2%eth0", "[2001:db8::2%eth0]:80", "2001:db8::2%eth0"])
    func aZoneOnAnAddressThatIsNotLinkLocalIsRefused(_ text: String) {
        #expect(problem(text)?.contains("is not link-local") == true)
    }

    @Test(arguments: ["fe80::1%", "[fe80::1%]:80", "fe80::1%eth0/1", "fe80::1%averyveryverylongname", "[fe80::1%eth0]:0", "fe80::1%eth0:80"])
    func aMalformedZoneOrPortIsRefused(_ text: String) {
        #expect(problem(text) != nil)
    }

    @Test func theZoneNamesAnInterfaceOfTheNamespaceByNameOrIndex() throws {
        let network = NetworkSnapshot(links: [Link(index: 3, name: "eth0", flags: 1, operState: .up)], addresses: [], defaultRoutes: [])
        #expect(try PeerTarget(parsing: "fe80::1%eth0").interfaceIndex(in: network) == 3)
        #expect(try PeerTarget(parsing: "fe80::1%3").interfaceIndex(in: network) == 3)
        #expect(try PeerTarget(parsing: "10.0.1.2").interfaceIndex(in: network) == nil)
        #expect(throws: PeerTarget.Problem.self) { try PeerTarget(parsing: "fe80::1%wlan9").interfaceIndex(in: network) }
    }

    @Test func theSocketAddressCarriesTheScopeID() {
        var storage = SocketAddressStorage(AddressAndPort(address: IPAddress("fe80::1")!, port: 80), scopeID: 7)
        let scope = storage.withSockaddr { pointer, _ in
            UnsafeRawPointer(pointer).load(fromByteOffset: 24, as: UInt32.self)
        }
        #expect(scope == 7)
    }
}
