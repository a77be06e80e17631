import Foundation

/// A program run until stopped (`mptcpctl listen`, `monitor`), its stdout collected by line.
final class LineProcess: @unchecked Sendable {
    let process = Process()
    private let collected = Locked<[String]>([])
    private let errors = Locked<String>("")

    init(_ executable: String, _ arguments: [String]) throws {
        let (out, err) = process.prepare(executable, arguments)
        try process.run()
        let collected = self.collected, errors = self.errors
        readLines(of: out) { line in collected.mutate { $0.append(String(decoding: line, as: UTF8.self)) } }
        Thread.detachNewThread {
            errors.set(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        }
    }

    deinit { stop() }

    var lines: [String] { collected.get() }

    var jsonObjects: [[String: Any]] {
        lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// The first line matching `match`, waiting up to `seconds` for it.
    func waitForLine(_ what: String, seconds: Double = 15, _ match: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let line = lines.first(where: match) { return line }
            if !process.isRunning {
                Thread.sleep(forTimeInterval: 0.1)
                if let line = lines.first(where: match) { return line }
                throw LabError("\(process.arguments ?? []) exited (\(process.terminationStatus)) before \(what): \(errors.get())")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw LabError("no \(what) within \(seconds) s; output: \(lines); stderr: \(errors.get())")
    }

    /// Sends `signal` (SIGKILL if it has not ended within 5 s) and returns the exit
    /// status, or 128 + N when signal N ended it.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        if process.isRunning {
            kill(process.processIdentifier, signal)
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }
}
