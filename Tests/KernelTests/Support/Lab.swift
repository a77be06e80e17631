import Foundation
import MPTCPKit
import Synchronization

/// A throw-away two-host lab (`scripts/lab/lab`): namespaces `NAME-a` (client) and
/// `NAME-b` (server) joined by `paths` veth pairs; path i has 10.0.i.1 (a) and
/// 10.0.i.2 (b), fd00:i::1 and fd00:i::2, and per-path routing.
/// Names embed the test process id so `scripts/lab/lab gc` can sweep leftovers of
/// crashed runs; `close()` (also run by `deinit`) removes the lab.
final class Lab: LabNamespaces, @unchecked Sendable {
    let name: String
    let paths: Int
    private let closed = Mutex(false)

    private static let counter = Atomic<Int>(0)

    var client: String { name + "-a" }
    var server: String { name + "-b" }
    var clientNamespace: NetworkNamespace { get throws { try namespace(client) } }
    var serverNamespace: NetworkNamespace { get throws { try namespace(server) } }

    init(paths: Int, rateMbit: Int? = nil) throws {
        try KernelRequirement.check()
        name = Self.uniqueName()
        self.paths = paths
        try run("/bin/bash", [Repository.labScript, "gc"], check: false)
        var args = [Repository.labScript, "up", name, String(paths)]
        if let rateMbit { args.append(String(rateMbit)) }
        try run("/bin/bash", args)
    }

    deinit { close() }

    /// `mptl-PID-N`: unique in this process, and swept by `lab gc` once the process is gone.
    static func uniqueName() -> String {
        "mptl-\(getpid())-\(counter.wrappingAdd(1, ordering: .relaxed).newValue)"
    }

    func close() {
        let first = closed.withLock { done in
            defer { done = true }
            return !done
        }
        if first { _ = try? run("/bin/bash", [Repository.labScript, "down", name], check: false) }
    }

    /// Client (a) or server (b) address on path i.
    func address(_ host: Character, path: Int, v6: Bool = false) -> IPAddress {
        let last = host == "a" ? 1 : 2
        return IPAddress(v6 ? "fd00:\(path)::\(last)" : "10.0.\(path).\(last)")!
    }

}

/// What runs inside a lab's namespaces, the same for every topology.
protocol LabNamespaces {}

extension LabNamespaces {
    /// One of the lab's namespaces, or an error: never the test process's own
    /// namespace, which a test must not change.
    func namespace(_ name: String) throws -> NetworkNamespace {
        guard FileManager.default.fileExists(atPath: "/run/netns/" + name) else {
            throw LabError("the lab's namespace \(name) does not exist (/run/netns/\(name))")
        }
        return try NetworkNamespace(named: name)
    }

    /// Runs a command inside one of the lab's namespaces.
    @discardableResult
    func exec(_ namespace: String, _ arguments: [String], check: Bool = true) throws -> CommandResult {
        try run("/usr/sbin/ip", ["netns", "exec", namespace] + arguments, check: check)
    }

    /// Runs `mptcpctl -n NAMESPACE ARGS...`.
    @discardableResult
    func mptcpctl(_ namespace: String, _ arguments: [String], check: Bool = true) throws -> CommandResult {
        try run(Repository.mptcpctl, ["-n", namespace] + arguments, check: check)
    }

    /// Starts `scripts/lab/mptcp-peer.py` in a namespace.
    func peer(_ namespace: String, _ arguments: [String]) throws -> Peer {
        try Peer(namespace: namespace, arguments: arguments)
    }
}

/// A running `scripts/lab/mptcp-peer.py`: JSON lines out, commands in.
final class Peer: @unchecked Sendable {
    let process = Process()
    private let input = Pipe()
    private let lines = Locked<[[String: Any]]>([])
    private let errors = Locked<String>("")

    init(namespace: String, arguments: [String]) throws {
        guard let python = Repository.python else { throw LabError("python3 is missing") }
        let (out, err) = process.prepare("/usr/sbin/ip", ["netns", "exec", namespace, python, "-u", Repository.peerScript] + arguments,
                                         input: input)
        try process.run()
        let lines = self.lines, errors = self.errors
        readLines(of: out) { line in
            if let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any] {
                lines.mutate { $0.append(object) }
            }
        }
        Thread.detachNewThread {
            let data = err.fileHandleForReading.readDataToEndOfFile()
            errors.set(String(decoding: data, as: UTF8.self))
        }
    }

    deinit { stop() }

    /// Waits (up to `seconds`) for a line whose "event" is `event`, consuming it.
    func wait(for event: String, seconds: Double = 15) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let found = lines.mutate { all -> [String: Any]? in
                guard let i = all.firstIndex(where: { $0["event"] as? String == event }) else { return nil }
                return all.remove(at: i)
            }
            if let found { return found }
            if !process.isRunning && lines.get().isEmpty {
                throw LabError("peer exited (\(process.terminationStatus)) before '\(event)': \(errors.get())")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw LabError("no '\(event)' from the peer within \(seconds) s; stderr: \(errors.get())")
    }

    func send(_ command: String) {
        input.fileHandleForWriting.write(Data((command + "\n").utf8))
    }

    /// Ends the peer: SIGTERM, then SIGKILL if it has not exited within 2 s.
    func stop() {
        guard process.isRunning else { return }
        try? input.fileHandleForWriting.close()
        process.terminate()
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Collects path-manager events from one namespace until a wanted one arrives.
final class EventLog: @unchecked Sendable {
    let subscription: EventSubscription
    private(set) var seen: [EventNotice] = []

    init(_ namespace: NetworkNamespace, receiveBuffer: Int = EventSubscription.defaultReceiveBuffer) throws {
        subscription = try EventSubscription(namespace: namespace, receiveBuffer: receiveBuffer)
    }

    /// Reads until an event satisfies `match` (searching what was seen first), or fails after `seconds`.
    @discardableResult
    func wait(seconds: Double = 15, _ what: String, _ match: (Event) -> Bool) throws -> Event {
        if let i = seen.firstIndex(where: { if case .event(let e) = $0 { return match(e) } else { return false } }),
           case .event(let e) = seen.remove(at: i) {
            return e
        }
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            var found: Event?
            for notice in try subscription.next(timeoutMilliseconds: 200) {
                if found == nil, case .event(let e) = notice, match(e) { found = e } else { seen.append(notice) }
            }
            if let found { return found }
        }
        throw LabError("no \(what) event within \(seconds) s; saw: \(seen)")
    }
}
