import Foundation
import MPTCPKit
import Testing

/// `Subflow.tcpInfo` from the kernel's sock_diag dump: during a transfer on the
/// realistic lab, the subflows' acknowledged bytes grow and their RTT is measured.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class TCPInfoKernelTests {
    let lab: RealisticLab

    init() throws {
        lab = try RealisticLab(variant: .b)
    }

    deinit { lab.close() }

    @Test func subflowsBytesAckedGrowDuringATransferAndTheirRTTIsMeasured() throws {
        let sink = try lab.sink(port: 7901)
        defer { sink.stop() }
        var first: [String: UInt64] = [:]
        var grown: [Subflow] = []
        let lab = self.lab
        let transfer = try BulkTransfer.run(in: lab, to: RealisticLab.service(), port: 7901, seconds: 4) { _ in
            let connection = try ConnectionTable.read(namespace: lab.clientNamespace).first { $0.remotePort == 7901 }
            for subflow in connection?.subflows ?? [] {
                guard let acked = subflow.tcpInfo?.bytesAcked else { continue }
                let key = "\(subflow.localAddress):\(subflow.localPort)"
                if let before = first[key] {
                    if acked > before { grown.append(subflow) }
                } else {
                    first[key] = acked
                }
            }
            return !grown.isEmpty
        }
        #expect(transfer.bytes > 0)
        let subflow = try #require(grown.first, "no subflow's bytes_acked grew during the transfer")
        let info = try #require(subflow.tcpInfo)
        #expect(info.state == .established)
        #expect((info.rttMicroseconds ?? 0) > 0, "\(info)")
        #expect((info.rtoMicroseconds ?? 0) > 0, "\(info)")
        #expect((info.bytesSent ?? 0) >= (info.bytesAcked ?? 0), "\(info)")
        #expect((info.sendCongestionWindow ?? 0) > 0, "\(info)")
    }
}
