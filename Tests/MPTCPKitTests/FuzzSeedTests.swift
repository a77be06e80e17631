import Foundation
import MPTCPKit
import Testing

/// The fuzz targets' seeds (Tests/Fuzz/Seeds, captured from the kernel by
/// scripts/robustness/fuzz-corpus.py) are real traffic: every one must decode, through
/// the same entry points the fuzzers use.
@Suite struct FuzzSeedTests {
    static let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Seeds")

    static func files(_ target: String) throws -> [(name: String, selector: UInt8, datagram: [UInt8])] {
        let directory = seeds.appendingPathComponent(target)
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().map { name in
            let bytes = [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
            return (name, bytes.first ?? 0, Array(bytes.dropFirst()))
        }
    }

    @Test func capturedNetlinkDatagramsDecode() throws {
        let files = try Self.files("FuzzEvents")
        #expect(files.count >= 20)
        var events: [Event] = []
        for f in files {
            switch f.selector {
            case 0:
                let family = UInt16(f.datagram[4]) | UInt16(f.datagram[5]) << 8
                let decoded = try WireDecoding.mptcpEvents(f.datagram, familyID: family).get()
                #expect(!decoded.isEmpty, "\(f.name)")
                for d in decoded { events.append(try d.get()) }
            case 1:
                let replies = try WireDecoding.mptcpReplies(f.datagram).get()
                #expect(!replies.isEmpty, "\(f.name)")
            default:
                _ = try WireDecoding.rtnetlink(f.datagram).get()
            }
        }
        // The capture saw whole connection lives, with additional subflows and announcements.
        let types = Set(events.map(\.type))
        #expect(types.isSuperset(of: [.listenerCreated, .created, .established, .announced, .closed]), "\(types)")
        #expect(!types.isDisjoint(with: [.subflowEstablished, .subflowClosed]), "\(types)")
        let error = try #require(files.first { $0.name.hasPrefix("reply-error") })
        let text = try WireDecoding.mptcpReplies(error.datagram).get().joined()
        #expect(text.contains("error: -22, message: Optional(\"missing address data\")"), "the extended ack's text: \(text)")
    }

    @Test func capturedSockDiagDumpsDecode() throws {
        var connections = 0
        for f in try Self.files("FuzzSockDiag") {
            connections += try WireDecoding.sockDiag(f.datagram, mptcp: f.selector & 1 == 1).get().count
        }
        #expect(connections >= 2, "the capture's IPv4 and IPv6 connections")
    }

    /// Inputs that crashed FuzzEvents or FuzzSockDiag once: each decodes or is refused now.
    @Test func everyDatagramThatCrashedIsHandled() throws {
        let root = Self.seeds.deletingLastPathComponent().appendingPathComponent("Regressions")
        for target in ["FuzzEvents", "FuzzSockDiag"] {
            let directory = root.appendingPathComponent(target)
            for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where !name.hasPrefix(".") {
                let bytes = [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
                guard let selector = bytes.first else { continue }
                let datagram = Array(bytes.dropFirst())
                if target == "FuzzSockDiag" {
                    _ = WireDecoding.sockDiag(datagram, mptcp: selector & 1 == 1)
                } else if selector % 3 == 0, datagram.count >= 6 {
                    _ = WireDecoding.mptcpEvents(datagram, familyID: UInt16(datagram[4]) | UInt16(datagram[5]) << 8)
                } else if selector % 3 == 1 {
                    _ = WireDecoding.mptcpReplies(datagram)
                } else {
                    _ = WireDecoding.rtnetlink(datagram)
                }
            }
        }
    }
}
