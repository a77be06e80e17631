import MPTCPKit
import MPTCPPolicy
import Testing
@testable import MPTCPDaemon

/// The namespace-wide settings the reconciler changes: recorded before each
/// change, given back at exit, never a setting someone else changed since.
@Suite struct ReconcilerSettingsTests {
    private static let scheduled = "scheduler = \"redundant\"\nlimits = { subflows = 8, add_addr_accepted = 8 }"

    @Test func aSettingIsRecordedBeforeItIsChangedAndRestoredAtExit() throws {
        let rig = ReconcilerRig()
        var recordedFirst: SettingsRecord?
        defer { rig.kernel.beforeEach = nil }
        rig.kernel.beforeEach = { request throws(MPTCPError) in
            if case .setLimits = request { recordedFirst = try? rig.record().settings }
        }
        let reconciler = try rig.reconciler(try ReconcilerRig.policy(kernel: Self.scheduled))
        #expect(reconciler.applySettings(logFound: true))
        #expect(recordedFirst?.subflows == ChangedSetting(found: 2, set: 8), "the record is written before the change")
        #expect(rig.kernel.schedulerName == "redundant")
        #expect(rig.kernel.limitsValue == Limits(subflows: 8, addAddrAccepted: 8))
        let record = try rig.record().settings
        #expect(record.scheduler == ChangedSetting(found: "default", set: "redundant"))
        #expect(record.addAddrAccepted == ChangedSetting(found: 0, set: 8))
        #expect(record.pathManager == nil, "the path manager was already the policy's")
        #expect(rig.log.lines("set scheduler").first?.metadata["to"] == "redundant")

        reconciler.restoreSettings()
        #expect(rig.kernel.schedulerName == "default")
        #expect(rig.kernel.limitsValue == Limits(subflows: 2, addAddrAccepted: 0))
        #expect(try rig.record().settings.isEmpty, "nothing left to give back")
    }

    @Test func settingsChangedByAnEarlierRunAreAdoptedAndRestoredByTheNext() throws {
        let first = ReconcilerRig()
        #expect(try first.reconciler(try ReconcilerRig.policy(kernel: Self.scheduled)).applySettings(logFound: true))
        let second = first.restarted()
        let reconciler = try second.reconciler(try ReconcilerRig.policy(kernel: Self.scheduled))
        #expect(second.log.lines("adopting kernel settings changed by an earlier run (given back at exit)").count == 1)
        #expect(reconciler.applySettings(logFound: false))
        reconciler.restoreSettings()
        #expect(second.kernel.schedulerName == "default", "the value the first run found")
        #expect(second.kernel.limitsValue == Limits(subflows: 2, addAddrAccepted: 0))
    }

    @Test func aSettingSomeoneElseChangedSinceIsLeftAloneAtExit() throws {
        let rig = ReconcilerRig()
        let reconciler = try rig.reconciler(try ReconcilerRig.policy(kernel: Self.scheduled))
        #expect(reconciler.applySettings(logFound: true))
        rig.kernel.schedulerName = "bpf_first"
        reconciler.restoreSettings()
        #expect(rig.kernel.schedulerName == "bpf_first")
        #expect(rig.kernel.limitsValue == Limits(subflows: 2, addAddrAccepted: 0), "the others are restored")
        #expect(rig.log.lines("not restoring a setting changed since by someone else").count == 1)
        #expect(try rig.record().settings.isEmpty)
    }

    @Test func aRefusedSettingIsNotRecordedAndTheOthersStillApply() throws {
        let rig = ReconcilerRig()
        rig.kernel.refuse(MPTCPError(code: .kernel, operation: "set limits", errno: 22, kernelMessage: "limit greater than maximum (8)")) {
            if case .setLimits = $0 { true } else { false }
        }
        let reconciler = try rig.reconciler(try ReconcilerRig.policy(kernel: Self.scheduled))
        #expect(!reconciler.applySettings(logFound: true))
        let record = try rig.record().settings
        #expect(record.subflows == nil && record.addAddrAccepted == nil, "the refused change is not recorded")
        #expect(record.scheduler == ChangedSetting(found: "default", set: "redundant"))
        #expect(rig.kernel.limitsValue == Limits(subflows: 2, addAddrAccepted: 0))
        #expect(rig.log.lines("cannot apply a kernel setting").count == 1)
    }

    @Test func aFailedRestoreStaysRecordedForTheNextRun() throws {
        let rig = ReconcilerRig()
        let reconciler = try rig.reconciler(try ReconcilerRig.policy(kernel: Self.scheduled))
        #expect(reconciler.applySettings(logFound: true))
        rig.kernel.refuse(MPTCPError(code: .system, operation: "set scheduler", errno: 13)) {
            if case .setScheduler = $0 { true } else { false }
        }
        reconciler.restoreSettings()
        let record = try rig.record().settings
        #expect(record.scheduler == ChangedSetting(found: "default", set: "redundant"), "kept for the next run")
        #expect(record.subflows == nil && record.addAddrAccepted == nil, "the restored ones leave the record")
    }
}
