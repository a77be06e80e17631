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

/// What this daemon changed in the namespace, kept in
/// `STATE_DIRECTORY/endpoints-NAME.json` (`endpoints-host.json` without a name;
/// in an unnamed namespace the daemon runs only with a state directory of its
/// own, `SystemChecks.unnamedNamespaceProblem`) so a restart (even after SIGKILL)
/// adopts it: the endpoints it added, and the namespace-wide settings it
/// changed with the values it found (given back at exit). Written before
/// each change and after each undo; replaced atomically (write, rename). No
/// fsync: the file only has to survive the process, not the machine
/// (endpoints do not survive a reboot either, and /run is a tmpfs).
struct OwnershipStore: Sendable {
    let path: String

    init(directory: String, namespace: NetworkNamespace) {
        path = directory + "/endpoints-" + (namespace.name ?? "host") + ".json"
    }

    /// The record's content.
    struct Record: Equatable {
        var endpoints: Set<OwnedEndpoint> = []
        var settings = SettingsRecord()
    }

    private struct File: Codable {
        var version: Int
        var endpoints: [OwnedEndpoint]
        /// Absent in records written before settings were recorded, and when none was changed.
        var settings: SettingsRecord?
    }

    /// The recorded endpoints and settings; empty when the file does not exist yet.
    func load() throws -> Record {
        guard FileManager.default.fileExists(atPath: path) else { return Record() }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            let file = try JSONDecoder().decode(File.self, from: data)
            guard file.version == 1 else { throw StoreError("\(path): unknown version \(file.version)") }
            return Record(endpoints: Set(file.endpoints), settings: file.settings ?? SettingsRecord())
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError("\(path) is not a state file this daemon wrote: \(error)")
        }
    }

    func save(_ record: Record) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(File(version: 1, endpoints: record.endpoints.sorted(),
                                           settings: record.settings.isEmpty ? nil : record.settings))
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
