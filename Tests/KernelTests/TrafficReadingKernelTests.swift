import Foundation
import MPTCPKit
import Testing

/// `ConnectionTable.readTraffic` (the health thread's narrow read) against the
/// full table (`ConnectionTable.read`) on the realistic lab during a transfer:
/// the same subflows counted per address, the same peers, and ack progress
/// between that of a full read just before and one just after.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class TrafficReadingKernelTests {
    let lab: RealisticLab

    init() throws {
        lab = try RealisticLab(variant: .b)
    }

    deinit { lab.close() }

    /// Whether `narrow` agrees with the full reads `before` and `after` (nil
    /// when the table changed between them, e.g. a subflow joined: read again).
    static func agreement(_ narrow: TrafficReading, before: TrafficReading, after: TrafficReading) -> String? {
        func shape(_ r: TrafficReading) -> [String] {
            r.byAddress.map { "\($0.key): \($0.value.subflows) subflows, \($0.value.established) established" }.sorted()
                + r.peers.map { "peer \($0)" }
        }
        guard shape(before) == shape(after) else { return nil }
        if shape(narrow) != shape(before) { return "narrow \(shape(narrow)) against full \(shape(before))" }
        for (address, full) in before.byAddress {
            let total = { (t: AddressTraffic?) in (t?.bytesAcked ?? 0) &+ (t?.bytesReceived ?? 0) }
            let low = total(full), high = total(after.byAddress[address])
            let got = total(narrow.byAddress[address])
            if got < low || got > high { return "\(address): \(got) bytes acked and received, not within [\(low), \(high)]" }
        }
        return ""
    }

    /// One comparison in `namespace` for the addresses its subflows use; nil when the table moved under it.
    static func compare(in namespace: NetworkNamespace) throws -> (reading: TrafficReading, disagreement: String?)? {
        let first = try ConnectionTable.read(namespace: namespace)
        let addresses = Set(first.flatMap { $0.subflows.map(\.localAddress) })
        let narrow = try ConnectionTable.readTraffic(namespace: namespace, addresses: addresses, peersPerFamily: 4)
        let last = try ConnectionTable.read(namespace: namespace)
        let before = TrafficReading(connections: first, addresses: addresses, peersPerFamily: 4)
        let after = TrafficReading(connections: last, addresses: addresses, peersPerFamily: 4)
        guard let verdict = agreement(narrow, before: before, after: after) else { return nil }
        return (narrow, verdict.isEmpty ? nil : verdict)
    }

    @Test func theNarrowReadAgreesWithTheFullTableDuringATransferOnBothEnds() throws {
        let sink = try lab.sink(port: 7903)
        defer { sink.stop() }
        let clientNamespace = try lab.clientNamespace, serverNamespace = try lab.namespace(lab.server)
        var client: TrafficReading?, served: TrafficReading?
        var disagreements: [String] = []
        let transfer = try BulkTransfer.run(in: lab, to: RealisticLab.service(), port: 7903, seconds: 6) { _ in
            if let (reading, disagreement) = try Self.compare(in: clientNamespace) {
                if let disagreement {
                    disagreements.append("client: \(disagreement)")
                } else if reading.byAddress.values.contains(where: { $0.established > 0 && $0.bytesAcked &+ $0.bytesReceived > 0 }) {
                    client = reading
                }
            }
            if let (reading, disagreement) = try Self.compare(in: serverNamespace) {
                if let disagreement {
                    disagreements.append("server: \(disagreement)")
                } else if !reading.byAddress.isEmpty {
                    served = reading
                }
            }
            return client != nil && served != nil
        }
        #expect(transfer.bytes > 0)
        #expect(disagreements.isEmpty, "\(disagreements)")
        let seen = try #require(client, "no agreeing reading with an established subflow that carried data")
        #expect(seen.peers == [RealisticLab.service()], "the client's connection goes to the service: \(seen.peers)")
        #expect(seen.isBusy)
        let sinkSide = try #require(served, "no agreeing reading on the server")
        #expect(sinkSide.peers.isEmpty, "the sink's connection is server-side: \(sinkSide.peers)")
    }
}
