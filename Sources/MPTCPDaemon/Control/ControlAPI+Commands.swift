import MPTCPAPI
import MPTCPKit
import MPTCPPolicy

// The mutating methods (root or `[daemon] admin_group` only): a reload, and the
// userspace path manager's commands. A subflow made here is left alone by the
// policy until it closes; one the policy wants and that is destroyed here comes
// back, as after any failure.
extension ControlAPI {
    /// Validates the file first, so the caller gets the problems; a valid one is
    /// applied by the service's loop, as SIGHUP would.
    func policyReload() throws(RPCError) -> ReloadRecord {
        let path = state.snapshot.configPath
        switch PolicyFile.load(path: path, namespace: .current) {
        case .failure(let problems):
            throw .invalidPolicy(problems.lines.joined(separator: "\n"))
        case .success(let checked):
            // The difference from the running policy, taken before the loop can replace it.
            let changes = policyDifferences(from: state.snapshot.policy, to: checked.policy)
            reload()
            return ReloadRecord(config: path, changes: changes)
        }
    }

    func subflowCreate(_ p: SubflowCreateParams) throws(RPCError) -> SubflowCreatedRecord {
        let index = try interfaceIndex(p.interface)
        // On a connection the daemon manages, the policy keeps its hands off it.
        let manager = state.snapshot.manager
        manager?.setManual(token: p.token, local: p.local, remote: p.remote, pinned: true)
        return try kernelCall(undo: { manager?.setManual(token: p.token, local: p.local, remote: p.remote, pinned: false) }) {
            () throws(MPTCPError) -> SubflowCreatedRecord in
            // Without one: the id the connection already uses for the address, else the lowest free.
            let id: UInt8
            if let given = p.localID { id = given } else { id = try kernel.pathManager.localID(token: p.token, for: p.local) }
            let local = Endpoint(id: id, address: p.local, flags: p.backup ? .backup : [], interfaceIndex: index)
            try kernel.pathManager.createSubflow(token: p.token, local: local, remote: p.remote)
            return SubflowCreatedRecord(token: p.token, local: p.local, localID: id, remote: p.remote, backup: p.backup)
        }
    }

    func subflowDestroy(_ p: SubflowDestroyParams) throws(RPCError) -> SubflowDestroyedRecord {
        state.snapshot.manager?.setManual(token: p.token, local: p.local.address, remote: p.remote, pinned: false)
        return try kernelCall { () throws(MPTCPError) -> SubflowDestroyedRecord in
            try kernel.pathManager.destroySubflow(token: p.token, local: p.local, remote: p.remote)
            return SubflowDestroyedRecord()
        }
    }

    func subflowSetBackup(_ p: SubflowSetBackupParams) throws(RPCError) -> BackupSetRecord {
        try kernelCall { () throws(MPTCPError) -> BackupSetRecord in
            try kernel.pathManager.setSubflowBackup(token: p.token, local: p.local, remote: p.remote, backup: p.backup)
            return BackupSetRecord(backup: p.backup)
        }
    }

    func announce(_ p: AnnounceParams) throws(RPCError) -> AnnouncedRecord {
        let index = try interfaceIndex(p.interface)
        return try kernelCall { () throws(MPTCPError) -> AnnouncedRecord in
            try kernel.pathManager.announce(token: p.token, address: Endpoint(id: p.id, address: p.address, port: p.port,
                                                                              flags: .signal, interfaceIndex: index))
            return AnnouncedRecord()
        }
    }

    func remove(_ p: RemoveParams) throws(RPCError) -> RemovedRecord {
        try kernelCall { () throws(MPTCPError) -> RemovedRecord in
            try kernel.pathManager.remove(token: p.token, localID: p.id)
            return RemovedRecord()
        }
    }

    func interfaceNotify(_ p: InterfaceNotifyParams) throws(RPCError) -> InterfaceNotifiedRecord {
        if let name = p.interface {
            let links: [Link]
            do { links = try kernel.network.read().links } catch { throw .kernel("\(error)") }
            guard links.contains(where: { $0.name == name }) else {
                throw .invalidParams("params.interface: no interface \"\(name)\" in \(namespace.name ?? "the host namespace")")
            }
        }
        logger.info("re-examining interfaces on request",
                    metadata: ["interface": "\(p.interface ?? "all")", "action": "\(p.action ?? "-")"])
        hub.publish(.interfaceNotified(interface: p.interface, action: p.action))
        notifyNetwork()
        return InterfaceNotifiedRecord(interface: p.interface, action: p.action)
    }

    /// `params.interface` as an interface index of the daemon's namespace; 0 when absent.
    private func interfaceIndex(_ name: String?) throws(RPCError) -> Int32 {
        guard let name else { return 0 }
        let table: InterfaceTable
        do { table = try InterfaceTable.read(namespace: .current) } catch { throw .kernel("\(error)") }
        guard let i = table.index(of: name) else { throw .invalidParams("params.interface: no interface \"\(name)\"") }
        return i
    }

    /// A kernel request: its refusal becomes `kernel_error` with the kernel's words
    /// (or `invalid_params` for what MPTCPKit refused before asking).
    private func kernelCall<T>(undo: () -> Void = {}, _ body: () throws(MPTCPError) -> T) throws(RPCError) -> T {
        do { return try body() } catch {
            undo()
            throw error.code == .invalidArgument ? .invalidParams(error.description) : .kernel(error.description)
        }
    }
}
