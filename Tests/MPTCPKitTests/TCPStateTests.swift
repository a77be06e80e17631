import MPTCPKit
import Testing

@Suite struct TCPStateTests {
    @Test func statesAreNamedAsSsNamesThemInLowercase() {
        let names = (1...13).map { TCPState(rawValue: UInt8($0)).name }
        #expect(names == ["established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2", "time-wait", "close",
                          "close-wait", "last-ack", "listen", "closing", "new-syn-recv", "bound-inactive"])
        #expect(TCPState(rawValue: 0).name == "state-0" && TCPState(rawValue: 99).name == "state-99", "unknown numbers are kept")
    }

    @Test func onlyAnEstablishedSubflowCarriesTraffic() {
        let carrying = (0...14).map { TCPState(rawValue: UInt8($0)) }.filter(\.carriesTraffic)
        #expect(carrying == [.established])
        #expect(TCPState.synSent.isHandshaking && TCPState.synReceived.isHandshaking)
        #expect(!TCPState.established.isHandshaking && !TCPState.finWait1.isHandshaking)
    }
}
