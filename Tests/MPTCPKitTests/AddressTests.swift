import Testing
@testable import MPTCPKit

@Suite struct AddressTests {
    @Test(arguments: ["10.0.0.1", "0.0.0.0", "255.255.255.255", "2001:db8::1", "::", "fe80::1:2"])
    func validAddressesRoundTrip(_ text: String) throws {
        let a = try #require(IPAddress(text))
        #expect(a.description == text)
        #expect(IPAddress(bytes: a.bytes) == a)
    }

    @Test(arguments: ["", "10.0.0", "10.0.0.256", "10.0.0.1.2", "abc", "2001:db8:::1", "[::1]", "10.0.0.1/24", " 10.0.0.1", "fe80::1%eth0"])
    func invalidAddressesAreRejected(_ text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func addressesWithPorts() throws {
        #expect(AddressAndPort(parsing: "10.0.0.1:80") == AddressAndPort(address: IPAddress("10.0.0.1")!, port: 80))
        #expect(AddressAndPort(parsing: "[2001:db8::1]:443") == AddressAndPort(address: IPAddress("2001:db8::1")!, port: 443))
        #expect(AddressAndPort(parsing: "2001:db8::1") == AddressAndPort(address: IPAddress("2001:db8::1")!))
        #expect(AddressAndPort(parsing: "[2001:db8::1]") == AddressAndPort(address: IPAddress("2001:db8::1")!))
        #expect(AddressAndPort(parsing: "10.0.0.1") == AddressAndPort(address: IPAddress("10.0.0.1")!))
        for bad in ["10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536", "[10.0.0.1]:80", "[::1]:x", "[::1", "::1:80:", "x:80"] {
            #expect(AddressAndPort(parsing: bad) == nil, "\(bad) should be rejected")
        }
        #expect(AddressAndPort(address: IPAddress("::1")!, port: 8).description == "[::1]:8")
    }

    @Test func mappedAddressesUnmap() {
        #expect(IPAddress("::ffff:10.0.0.1")!.unmapped == IPAddress("10.0.0.1"))
        #expect(IPAddress("2001:db8::1")!.unmapped == IPAddress("2001:db8::1"))
    }

    @Test func tokensFormatAsEightHexDigits() {
        #expect(formatToken(0xabc) == "00000abc")
        #expect(formatToken(0xf11f_d6c7) == "f11fd6c7")
    }

    @Test func tokensParse() {
        #expect(parseToken("f11fd6c7") == 0xf11f_d6c7)
        #expect(parseToken("0xF11FD6C7") == 0xf11f_d6c7)
        #expect(parseToken("00000abc") == 0xabc)
        for bad in ["", "0x", "123456789", "xyz", "-1", "0x-1", "f11fd6c7 "] {
            #expect(parseToken(bad) == nil, "\(bad) should be rejected")
        }
    }

    @Test func namespaceNamesAreChecked() {
        for bad in ["", ".", "..", "a/b", "../etc"] {
            #expect(throws: MPTCPError.self) { try NetworkNamespace(named: bad) }
        }
        #expect((try? NetworkNamespace(named: "lab-1"))?.path == "/run/netns/lab-1")
    }
}

@Suite struct LocalIDTests {
    static let a = IPAddress("10.0.2.1")!
    static let b = IPAddress("10.0.3.1")!

    @Test func reusesTheIDTheKernelBound() throws {
        let known = [Endpoint(id: 4, address: Self.a, flags: .implicit)]
        #expect(try chooseLocalID(for: Self.a, known: known, token: 1) == 4)
    }

    @Test func picksTheLowestFreeID() throws {
        let known = [Endpoint(id: 1, address: Self.b), Endpoint(id: 3, address: IPAddress("10.0.4.1")!)]
        #expect(try chooseLocalID(for: Self.a, known: known, token: 1) == 2)
        #expect(try chooseLocalID(for: Self.a, known: [], token: 1) == 1)
    }

    @Test func failsWhenEveryIDIsTaken() {
        let known = (1...255).map { Endpoint(id: UInt8($0), address: IPAddress(bytes: [10, 1, 0, UInt8($0)])!) }
        #expect(throws: MPTCPError.self) { try chooseLocalID(for: Self.a, known: known, token: 1) }
    }
}
