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
/// adopts it: the endpoints it added, the namespace-wide settings it
/// changed with the values it found (given back at exit), and the source
/// routing it made (`routing`: tables, rules, routes, rp_filter values found).
/// Written before each change and after each undo; replaced atomically
/// (write, rename). The endpoint thread's reconciler and routing owner each
/// update their own part (`update`), never the other's. Version 1 throughout:
/// `routing` is an optional member an older daemon ignores. No
/// fsync: the file only has to survive the process, not the machine
/// (endpoints do not survive a reboot either, and /run is a tmpfs).
final class OwnershipStore: @unchecked Sendable {
    let path: String
    /// The record as last read or written (the endpoint thread's alone).
    private var last: Record?

    init(directory: String, namespace: NetworkNamespace) {
        path = directory + "/endpoints-" + (namespace.name ?? "host") + ".json"
    }

    /// The record's content.
    struct Record: Equatable {
        var endpoints: Set<OwnedEndpoint> = []
        var settings = SettingsRecord()
        var routing = RoutingOwnership()
    }

    private struct File: Codable {
        var version: Int
        var endpoints: [OwnedEndpoint]
        /// Absent in records written before settings were recorded, and when none was changed.
        var settings: SettingsRecord?
        /// Absent in records written before routing was owned, and when nothing is.
        var routing: RoutingOwnership?
    }

    /// The recorded endpoints and settings; empty when the file does not exist yet.
    func load() throws -> Record {
        guard FileManager.default.fileExists(atPath: path) else { return Record() }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            let file = try JSONDecoder().decode(File.self, from: data)
            guard file.version == 1 else { throw StoreError("\(path): unknown version \(file.version)") }
            let record = Record(endpoints: Set(file.endpoints), settings: file.settings ?? SettingsRecord(),
                                routing: file.routing ?? RoutingOwnership())
            last = record
            return record
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
                                           settings: record.settings.isEmpty ? nil : record.settings,
                                           routing: record.routing == RoutingOwnership() ? nil : record.routing))
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else {
            throw StoreError("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            throw StoreError("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        last = record
    }

    /// The record as last read or written; read now when it has not been yet
    /// (empty when it cannot be: the reconciler has set a damaged one aside).
    var recorded: Record {
        if let last { return last }
        return (try? load()) ?? Record()
    }

    /// Changes one part of the record and writes it, keeping the other parts.
    func update(_ body: (inout Record) -> Void) throws {
        var record = recorded
        body(&record)
        try save(record)
    }
}

struct StoreError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
