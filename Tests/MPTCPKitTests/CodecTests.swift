import PropertyBased
import Testing
@testable import MPTCPKit

/// Round trips and malformed input for the pure-Swift netlink codecs: no kernel needed.
@Suite struct AttributeCodecTests {
    @Test func attributesRoundTripWithPadding() throws {
        var w = AttributeWriter()
        w.putU8(1, 7)
        w.putU16(2, 0x1234)
        w.putU32(3, 0xdead_beef)
        w.put(4, [1, 2, 3, 4, 5])
        #expect(w.bytes.count == 8 + 8 + 8 + 12)
        let attrs = try parseAttributes(w.bytes)
        #expect(attrs.map(\.type) == [1, 2, 3, 4])
        #expect(try attrs[0].u8("a") == 7)
        #expect(try attrs[1].u16("b") == 0x1234)
        #expect(try attrs[2].u32("c") == 0xdead_beef)
        #expect(attrs[3].value == [1, 2, 3, 4, 5])
    }

    @Test func nestedFlagIsMaskedOff() throws {
        var w = AttributeWriter()
        w.nest(1) { $0.putU16(1, 2) }
        let outer = try parseAttributes(w.bytes)
        #expect(outer.first?.type == 1)
        #expect(try outer.first?.nested().first?.u16("family") == 2)
    }

    @Test func attributeLongerThanBufferIsAnError() {
        let bytes: [UInt8] = [200, 0, 1, 0, 0, 0, 0, 0]
        #expect(throws: DecodeError.self) { try parseAttributes(bytes) }
    }

    @Test func attributeShorterThanHeaderIsAnError() {
        let bytes: [UInt8] = [2, 0, 1, 0, 0, 0, 0, 0]
        #expect(throws: DecodeError.self) { try parseAttributes(bytes) }
    }

    @Test func trailingBytesShorterThanAHeaderAreIgnored() throws {
        var w = AttributeWriter()
        w.putU32(1, 1)
        #expect(try parseAttributes(w.bytes + [0, 0]).count == 1)
    }

    @Test func wrongValueSizesAreErrors() {
        let a = NetlinkAttribute(type: 1, value: [1, 2, 3])
        #expect(throws: DecodeError.self) { try a.u8("x") }
        #expect(throws: DecodeError.self) { try a.u16("x") }
        #expect(throws: DecodeError.self) { try a.u32("x") }
        #expect(throws: DecodeError.self) { try a.be16("x") }
    }

    @Test func randomBytesNeverCrashAnyDecoder() async {
        await propertyCheck(count: 2000, input: Gen.uint8().array(of: 0...96)) { bytes in
            _ = try? parseAttributes(bytes)
            _ = try? NetlinkMessage.parse(bytes)
            if let attrs = try? parseAttributes(bytes) {
                _ = try? Endpoint(reply: attrs)
                _ = try? Endpoint(nest: attrs)
                _ = try? Limits(reply: attrs)
                _ = try? Event(command: 10, attributes: attrs)
            }
            if let m = try? NetlinkMessage.parse(bytes) {
                for message in m {
                    _ = try? NetlinkStatus(errorMessage: message)
                    _ = try? NetlinkStatus(doneMessage: message)
                    _ = try? ConnectionTable.DiagSocket(message: message, mptcp: true)
                }
            }
            _ = try? MPTCPInfo(bytes: bytes)
        }
    }

    @Test func randomAttributeRunsNeverCrashTypedDecoders() async {
        // Well-framed attributes with random types and sizes reach the typed decoders' checks.
        let attribute = Gen.uint16(in: 0...20).array(of: 1).map { $0[0] }
        await propertyCheck(count: 2000, input: attribute.array(of: 0...8), Gen.uint8(in: 0...20).array(of: 0...8)) { types, sizes in
            var w = AttributeWriter()
            for (t, size) in zip(types, sizes) { w.put(t, [UInt8](repeating: 0xab, count: Int(size))) }
            let attrs = (try? parseAttributes(w.bytes)) ?? []
            #expect(attrs.count == min(types.count, sizes.count))
            _ = try? Event(command: 1, attributes: attrs)
            _ = try? Endpoint(nest: attrs)
            _ = try? Limits(reply: attrs)
        }
    }
}

@Suite struct EndpointCodecTests {
    @Test(arguments: [
        Endpoint(id: 1, address: IPAddress("10.0.0.1")!, flags: [.subflow]),
        Endpoint(id: 255, address: IPAddress("2001:db8::1")!, port: 10200, flags: [.signal, .backup], interfaceIndex: 3),
        Endpoint(id: 9, address: IPAddress("192.168.1.2")!, flags: [.subflow, .fullmesh, .laminar, .implicit]),
    ])
    func endpointRoundTrips(_ endpoint: Endpoint) throws {
        let decoded = try Endpoint(reply: try parseAttributes(endpoint.replyAttributes))
        #expect(decoded == endpoint)
    }

    @Test func endpointPortIsHostOrder() throws {
        let e = Endpoint(id: 1, address: IPAddress("10.0.0.1")!, port: 10200, flags: .signal)
        let nest = try parseAttributes(e.replyAttributes)[0].nested()
        #expect(nest.first { $0.type == AddrAttr.port }?.value == [0xd8, 0x27])
        #expect(nest.first { $0.type == AddrAttr.addr4 }?.value == [10, 0, 0, 1])
    }

    @Test func endpointWithoutAddressIsAnError() {
        var w = AttributeWriter()
        AddressNest(family: 2, id: 3).write(&w, as: PMAttr.addr)
        #expect(throws: DecodeError.self) { try Endpoint(reply: try parseAttributes(w.bytes)) }
    }

    @Test func familyMismatchIsAnError() {
        var w = AttributeWriter()
        w.nest(PMAttr.addr) { n in
            n.putU16(AddrAttr.family, AddressFamily.inet6)
            n.put(AddrAttr.addr4, [10, 0, 0, 1])
        }
        #expect(throws: DecodeError.self) { try Endpoint(reply: try parseAttributes(w.bytes)) }
    }

    @Test func shortIPv6AddressIsAnError() {
        var w = AttributeWriter()
        w.nest(PMAttr.addr) { n in n.put(AddrAttr.addr6, [UInt8](repeating: 1, count: 15)) }
        #expect(throws: DecodeError.self) { try Endpoint(reply: try parseAttributes(w.bytes)) }
    }

    @Test func unknownNestedAttributesAreIgnored() throws {
        var w = AttributeWriter()
        w.nest(PMAttr.addr) { n in
            n.putU16(AddrAttr.family, 2)
            n.put(AddrAttr.addr4, [10, 0, 0, 1])
            n.putU32(99, 5)
        }
        #expect(try Endpoint(reply: try parseAttributes(w.bytes)).address == IPAddress("10.0.0.1"))
    }

    @Test func limitsRoundTrip() throws {
        let limits = Limits(subflows: 8, addAddrAccepted: 3)
        #expect(try Limits(reply: try parseAttributes(limits.replyAttributes)) == limits)
    }

    @Test func limitsReplyMissingAValueIsAnError() {
        var w = AttributeWriter()
        w.putU32(PMAttr.subflows, 2)
        #expect(throws: DecodeError.self) { try Limits(reply: try parseAttributes(w.bytes)) }
    }

    @Test func flagNamesIncludeUnknownBits() {
        #expect(EndpointFlags(rawValue: 0x25).names == ["signal", "backup", "laminar"])
        #expect(EndpointFlags(rawValue: 0x82).names == ["subflow", "0x80"])
    }

    @Test func flagValuesMatchTheKernelABI() {
        #expect(EndpointFlags.signal.rawValue == 1)
        #expect(EndpointFlags.subflow.rawValue == 2)
        #expect(EndpointFlags.backup.rawValue == 4)
        #expect(EndpointFlags.fullmesh.rawValue == 8)
        #expect(EndpointFlags.implicit.rawValue == 0x10)
        #expect(EndpointFlags.laminar.rawValue == 0x20)
    }

    @Test func endpointsRoundTripForAnyFields() async {
        await propertyCheck(count: 500, input: Gen.uint8(), Gen.uint8().array(of: 4), Gen.uint16(), Gen.uint32(in: 0...0x3f), Gen.int32()) {
            id, addr, port, flags, ifIndex in
            let e = Endpoint(id: id, address: IPAddress(bytes: addr)!, port: port, flags: EndpointFlags(rawValue: flags), interfaceIndex: ifIndex)
            let decoded = try? Endpoint(reply: try parseAttributes(e.replyAttributes))
            #expect(decoded == e)
        }
    }
}

@Suite struct EventCodecTests {
    static let v4a = IPAddress("10.0.1.1")!
    static let v4b = IPAddress("10.0.1.2")!
    static let v6a = IPAddress("fd00:1::1")!
    static let v6b = IPAddress("fd00:1::2")!

    /// One event of every type, with the attributes 6.18 sends for it.
    static let samples: [Event] = [
        Event(type: .created, token: 0xf11f_d6c7, family: 2, localID: 0, remoteID: 0, localAddress: v4a, remoteAddress: v4b,
              localPort: 10000, remotePort: 45025, flags: [.serverSide], serverSideAttribute: true),
        Event(type: .established, token: 1, family: 10, localID: 0, remoteID: 0, localAddress: v6a, remoteAddress: v6b,
              localPort: 1, remotePort: 65535, flags: [.denyJoinID0]),
        Event(type: .closed, token: 7),
        Event(type: .announced, token: 7, remoteID: 13, remoteAddress: v4b, remotePort: 10000),
        Event(type: .removed, token: 7, remoteID: 13),
        Event(type: .subflowEstablished, token: 7, family: 2, localID: 23, remoteID: 13, localAddress: v4a, remoteAddress: v4b,
              localPort: 50217, remotePort: 10000, backup: false, interfaceIndex: 3),
        Event(type: .subflowClosed, token: 7, family: 2, localID: 23, remoteID: 13, localAddress: v4a, remoteAddress: v4b,
              localPort: 50217, remotePort: 0, backup: false, error: 111, resetReason: 1, resetFlags: 0),
        Event(type: .subflowPriority, token: 7, family: 10, localID: 1, remoteID: 2, localAddress: v6a, remoteAddress: v6b,
              localPort: 5, remotePort: 6, backup: true),
        Event(type: .listenerCreated, family: 2, localAddress: IPAddress("0.0.0.0")!, localPort: 10000),
        Event(type: .listenerClosed, family: 10, localAddress: v6a, localPort: 10000),
        Event(type: EventType(rawValue: 42), token: 9, timeout: 30, unknownAttributes: [NetlinkAttribute(type: 77, value: [1, 2, 3, 4])]),
    ]

    @Test(arguments: samples)
    func eventRoundTrips(_ event: Event) throws {
        let decoded = try Event(command: event.type.rawValue, attributes: try parseAttributes(event.encodedAttributes))
        #expect(decoded == event)
    }

    @Test func portsAreBigEndianOnTheWire() throws {
        let e = Event(type: .subflowEstablished, localPort: 0x1234)
        #expect(try parseAttributes(e.encodedAttributes)[0].value == [0x12, 0x34])
    }

    @Test func serverSideComesFromFlagOrLegacyAttribute() {
        #expect(Event(type: .created, flags: [.serverSide]).isServerSide)
        #expect(Event(type: .created, serverSideAttribute: true).isServerSide)
        #expect(!Event(type: .created).isServerSide)
        #expect(Event(type: .created, flags: [.denyJoinID0]).denyJoinID0)
    }

    @Test func everyEventTypeHasItsKernelNumber() {
        #expect(EventType.all.map(\.rawValue) == [1, 2, 3, 6, 7, 10, 11, 13, 15, 16])
        #expect(Set(EventType.all.map(\.name)).count == EventType.all.count)
        #expect(EventType(rawValue: 99).name == "unknown_99")
    }

    @Test func wrongAddressLengthIsAnError() {
        let attrs = [NetlinkAttribute(type: EventAttr.saddr4, value: [1, 2, 3])]
        #expect(throws: DecodeError.self) { try Event(command: 10, attributes: attrs) }
    }

    @Test func familyContradictingAddressIsAnError() {
        let attrs = [NetlinkAttribute(type: EventAttr.family, value: le16(10)),
                     NetlinkAttribute(type: EventAttr.saddr4, value: [1, 2, 3, 4])]
        #expect(throws: DecodeError.self) { try Event(command: 10, attributes: attrs) }
    }

    @Test func unknownAttributesAreKept() throws {
        let attrs = [NetlinkAttribute(type: EventAttr.token, value: le32(5)), NetlinkAttribute(type: 200, value: [9])]
        let e = try Event(command: 1, attributes: attrs)
        #expect(e.token == 5)
        #expect(e.unknownAttributes == [NetlinkAttribute(type: 200, value: [9])])
    }
}

@Suite struct NetlinkMessageTests {
    /// An NLMSG_ERROR as 6.18 sends it with NETLINK_CAP_ACK and NETLINK_EXT_ACK.
    static func errorMessage(errno: Int32, text: String?, missing: UInt32? = nil, capped: Bool = true) -> NetlinkMessage {
        var payload = le32(UInt32(bitPattern: -errno))
        let request = NetlinkMessage(type: 28, flags: 5, sequence: 9, portID: 0, payload: [5, 1, 0, 0, 8, 0, 1, 0, 1, 2, 3, 4]).encoded
        payload += capped ? Array(request.prefix(16)) : request
        var w = AttributeWriter()
        if let text { w.put(NL.errAttrMsg, Array(text.utf8) + [0]) }
        if let missing { w.putU32(NL.errAttrMissType, missing) }
        payload += w.bytes
        var flags: UInt16 = capped ? NL.fCapped : 0
        if text != nil || missing != nil { flags |= NL.fAckTLVs }
        return NetlinkMessage(type: NL.error, flags: flags, sequence: 9, portID: 1, payload: payload)
    }

    @Test func messagesRoundTrip() throws {
        let a = NetlinkMessage(type: 28, flags: 2, sequence: 1, portID: 2, payload: [1, 2, 3])
        let b = NetlinkMessage(type: 3, flags: 2, sequence: 1, portID: 2, payload: le32(0))
        let parsed = try NetlinkMessage.parse(a.encoded + b.encoded)
        #expect(parsed.count == 2)
        #expect(parsed[1] == b)
        #expect(parsed[0].payload == [1, 2, 3])
    }

    @Test func truncatedMessageIsAnError() {
        let bytes = NetlinkMessage(type: 28, flags: 0, sequence: 1, portID: 0, payload: [1, 2, 3, 4]).encoded
        #expect(throws: DecodeError.self) { try NetlinkMessage.parse(Array(bytes.dropLast(2))) }
        var bad = bytes
        bad[0] = 4
        #expect(throws: DecodeError.self) { try NetlinkMessage.parse(bad) }
    }

    @Test(arguments: [true, false])
    func extendedAckTextIsDecoded(capped: Bool) throws {
        let status = try NetlinkStatus(errorMessage: Self.errorMessage(errno: 22, text: "limit greater than maximum (8)", capped: capped))
        #expect(status.error == -22)
        #expect(status.message == "limit greater than maximum (8)")
    }

    @Test func missingAttributeIsDecoded() throws {
        let status = try NetlinkStatus(errorMessage: Self.errorMessage(errno: 22, text: nil, missing: 4))
        #expect(status.missingAttribute == 4)
        #expect(status.message == nil)
    }

    @Test func plainAckHasNoError() throws {
        #expect(try NetlinkStatus(errorMessage: Self.errorMessage(errno: 0, text: nil)).error == 0)
    }

    @Test func truncatedErrorIsAnError() {
        let m = NetlinkMessage(type: NL.error, flags: 0, sequence: 1, portID: 0, payload: [0, 0, 0])
        #expect(throws: DecodeError.self) { try NetlinkStatus(errorMessage: m) }
    }

    @Test func kernelErrorsReadWithTextErrnoAndHint() {
        let e = MPTCPError.kernel("set limits", NetlinkStatus(error: -22, message: "limit greater than maximum (8)"))
        #expect(e.description == "set limits: limit greater than maximum (8) (Invalid argument)")
        let perm = MPTCPError.kernel("add endpoint 10.0.0.1", NetlinkStatus(error: -1, message: nil))
        #expect(perm.description.contains("Operation not permitted"))
        #expect(perm.description.contains("CAP_NET_ADMIN"))
        let token = MPTCPError.kernel("remove", NetlinkStatus(error: -22, message: "invalid token"))
        #expect(token.description.contains("mptcpctl connections"))
        let pm = MPTCPError.kernel("announce", NetlinkStatus(error: -22, message: "userspace PM not selected"))
        #expect(pm.description.contains("path-manager set userspace"))
    }
}
