import Foundation
import MPTCPKit
import MPTCPPolicy

/// The daemon's sockets into one namespace: genl requests, rtnetlink dumps and
/// the sysctls. Used by one task at a time (the reconciler's loop, or the
/// one-shot `--plan`), which serialises every call.
final class KernelHandle: @unchecked Sendable {
    let namespace: NetworkNamespace
    let pathManager: PathManager
    let network: NetworkReader
    let sysctl: MPTCPSysctl

    init(namespace: NetworkNamespace) throws {
        self.namespace = namespace
        pathManager = try PathManager(namespace: namespace)
        network = try NetworkReader(namespace: namespace)
        sysctl = MPTCPSysctl(namespace: namespace)
    }

    /// What the kernel offers, or nil when the sysctls cannot be read.
    static func offer(namespace: NetworkNamespace) -> KernelOffer? {
        let sysctl = MPTCPSysctl(namespace: namespace)
        guard let schedulers = try? sysctl.availableSchedulers(),
              let managers = try? sysctl.availablePathManagers() else { return nil }
        return KernelOffer(pathManagers: managers, schedulers: schedulers)
    }

    func settings() throws -> KernelSettingsSnapshot {
        KernelSettingsSnapshot(pathManager: try sysctl.pathManager(), scheduler: try sysctl.scheduler(),
                               limits: try pathManager.limits())
    }

    /// Everything the planner needs, read now.
    /// `snapshot`: links and addresses the caller has just read (else read here).
    func observe(owned: Set<OwnedEndpoint>, policy: Policy, network snapshot: NetworkSnapshot? = nil) throws -> EndpointPlan {
        let snapshot = try snapshot ?? network.read()
        let endpoints = try pathManager.endpoints()
        return Planner.plan(policy: policy, network: snapshot, endpoints: endpoints, owned: owned)
    }

    /// Applies one namespace-wide setting.
    func apply(_ change: SettingChange) throws {
        switch change {
        case .pathManager(_, let to): try sysctl.setPathManager(to)
        case .scheduler(_, let to): try sysctl.setScheduler(to)
        case .limits(_, let to): try pathManager.setLimits(subflows: to.subflows, addAddrAccepted: to.addAddrAccepted)
        }
    }
}

/// The endpoints this daemon added, kept in `STATE_DIRECTORY/endpoints-NAME.json`
/// so a restart (even after SIGKILL) adopts them. Written before each add and
/// after each delete; replaced atomically (write, rename). No fsync: the file
/// only has to survive the process, not the machine (endpoints do not survive
/// a reboot either, and /run is a tmpfs).
struct OwnershipStore: Sendable {
    let path: String

    init(directory: String, namespace: NetworkNamespace) {
        path = directory + "/endpoints-" + (namespace.name ?? "host") + ".json"
    }

    private struct File: Codable {
        var version: Int
        var endpoints: [OwnedEndpoint]
    }

    /// The recorded endpoints; empty when the file does not exist yet.
    func load() throws -> Set<OwnedEndpoint> {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            let file = try JSONDecoder().decode(File.self, from: data)
            guard file.version == 1 else { throw StoreError("\(path): unknown version \(file.version)") }
            return Set(file.endpoints)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError("\(path) is not a state file this daemon wrote: \(error)")
        }
    }

    func save(_ owned: Set<OwnedEndpoint>) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(File(version: 1, endpoints: owned.sorted()))
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else {
            throw StoreError("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            throw StoreError("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
    }
}

struct StoreError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
