import Testing
@testable import MPTCPKit

@Suite struct KernelCountersTests {
    /// `/proc/net/netstat` of a Linux 6.18 namespace (TcpExt and IpExt shortened), read on the project's machine.
    static let sample = """
        TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts
        TcpExt: 0 0 0 3
        IpExt: InNoRoutes InTruncatedPkts InMcastPkts
        IpExt: 0 0 12
        MPTcpExt: MPCapableSYNRX MPCapableSYNTX MPCapableSYNACKRX MPCapableACKRX MPCapableFallbackACK MPCapableFallbackSYNACK \
        MPCapableSYNTXDrop MPCapableSYNTXDisabled MPCapableEndpAttempt MPFallbackTokenInit MPTCPRetrans MPJoinNoTokenFound \
        MPJoinSynRx MPJoinSynBackupRx MPJoinSynAckRx MPJoinSynAckBackupRx MPJoinSynAckHMacFailure MPJoinAckRx \
        MPJoinAckHMacFailure MPJoinRejected MPJoinSynTx MPJoinSynTxCreatSkErr MPJoinSynTxBindErr MPJoinSynTxConnectErr \
        DSSNotMatching DSSCorruptionFallback DSSCorruptionReset InfiniteMapTx InfiniteMapRx DSSNoMatchTCP DataCsumErr \
        OFOQueueTail OFOQueue OFOMerge NoDSSInWindow DuplicateData AddAddr AddAddrTx AddAddrTxDrop EchoAdd EchoAddTx \
        EchoAddTxDrop PortAdd AddAddrDrop MPJoinPortSynRx MPJoinPortSynAckRx MPJoinPortAckRx MismatchPortSynRx \
        MismatchPortAckRx RmAddr RmAddrDrop RmAddrTx RmAddrTxDrop RmSubflow MPPrioTx MPPrioRx MPFailTx MPFailRx \
        MPFastcloseTx MPFastcloseRx MPRstTx MPRstRx SubflowStale SubflowRecover SndWndShared RcvWndShared \
        RcvWndConflictUpdate RcvWndConflict MPCurrEstab Blackhole MPCapableDataFallback MD5SigFallback DssFallback \
        SimultConnectFallback FallbackFailed WinProbe
        MPTcpExt: 2 2 2 2 0 0 0 0 0 0 0 0 3 0 1 0 0 3 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 1 0 0 0 0 0 0 0 0 0 0 \
        0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 2 0 0 0 0 0 0 18446744073709551615

        """

    @Test func theMPTcpExtLinePairOfARealNetstatFileParsesInTheKernelsOrder() throws {
        let counters = try MPTCPKernelCounters.parse(Self.sample)
        #expect(counters.fields.count == 76)
        #expect(counters.fields.first == .init(name: "MPCapableSYNRX", value: 2))
        #expect(counters["MPJoinSynRx"] == 3 && counters["MPJoinAckRx"] == 3 && counters["MPJoinSynTx"] == 1)
        #expect(counters["MPCurrEstab"] == 2)
        #expect(counters["WinProbe"] == UInt64.max, "values are 64-bit")
        #expect(counters["EmbryonicRsts"] == nil, "only MPTcpExt fields")
    }

    @Test func everyFieldOfTheKernelIsDescribedOnceAndInItsOrder() throws {
        let names = try MPTCPKernelCounters.parse(Self.sample).fields.map(\.name)
        #expect(MPTCPKernelCounters.descriptions.map(\.name) == names)
        #expect(MPTCPKernelCounters.descriptions.allSatisfy { !$0.help.isEmpty && $0.help.hasSuffix(".") })
        #expect(MPTCPKernelCounters.isGauge("MPCurrEstab") && !MPTCPKernelCounters.isGauge("MPJoinSynRx"))
    }

    @Test func aFieldANewerKernelAddsIsRead() throws {
        let counters = try MPTCPKernelCounters.parse("MPTcpExt: MPJoinSynRx NewThing\nMPTcpExt: 4 9\n")
        #expect(counters.fields == [.init(name: "MPJoinSynRx", value: 4), .init(name: "NewThing", value: 9)])
    }

    @Test func aNetstatFileWithoutMPTCPIsNotFound() {
        #expect(throws: MPTCPError.self) { try MPTCPKernelCounters.parse("TcpExt: A\nTcpExt: 1\n") }
        do { _ = try MPTCPKernelCounters.parse("TcpExt: A\nTcpExt: 1\n") } catch {
            #expect(error.isNotFound && error.hint?.contains("CONFIG_MPTCP") == true, "\(error)")
        }
    }

    @Test func aMalformedMPTcpExtPairIsAProtocolViolation() {
        for bad in ["MPTcpExt: A B\n", "MPTcpExt: A B\nMPTcpExt: 1\n", "MPTcpExt: A B\nMPTcpExt: 1 x\n",
                    "MPTcpExt: A B\nMPTcpExt: 1 -2\n", "MPTcpExt: 1 2\nMPTcpExt: A B\n", "MPTcpExt: A\nMPTcpExt: 1\nMPTcpExt: 2\n"] {
            do {
                _ = try MPTCPKernelCounters.parse(bad)
                Issue.record("accepted: \(bad)")
            } catch {
                #expect(error.code == .protocolViolation, "\(bad): \(error)")
            }
        }
    }
}
