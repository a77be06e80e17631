import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import MPTCPKit
import MPTCPPolicy

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
        let directory = Directory.containing(path)
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
