import Glibc
import Testing
@testable import MPTCPKit

/// poll(2) over probe descriptors: what is ready, and a descriptor that is not open.
@Suite struct ProbeWaitTests {
    @Test func aReadablePipeIsReadyAndAnEmptyOneIsNot() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        #expect(try ProbeWait.ready([ends[0]], timeoutMilliseconds: 0).isEmpty)
        var byte: UInt8 = 1
        #expect(write(ends[1], &byte, 1) == 1)
        #expect(try ProbeWait.ready([ends[0]], timeoutMilliseconds: 1000) == [ends[0]])
    }

    @Test func aDescriptorThatIsNotOpenIsAnError() throws {
        // Far above what this process opens (a closed pipe's number could be reused by a parallel test).
        let notOpen: Int32 = 1 << 20
        #expect { try ProbeWait.ready([notOpen], timeoutMilliseconds: 0) } throws: { ($0 as? MPTCPError)?.errno == EBADF }
    }
}
