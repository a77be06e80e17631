import Foundation

/// The result of a finished command.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String

    var stderrLines: [Substring] { stderr.split(separator: "\n", omittingEmptySubsequences: true) }
}

/// Runs a program to completion and captures its output.
@discardableResult
func run(_ executable: String, _ arguments: [String], check: Bool = true) throws -> CommandResult {
    let process = Process()
    let (out, err) = process.prepare(executable, arguments)
    try process.run()
    // Read both pipes concurrently so a chatty child cannot block on a full pipe.
    let errData = Locked(Data())
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        errData.set(err.fileHandleForReading.readDataToEndOfFile())
        done.signal()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    done.wait()
    process.waitUntilExit()
    let result = CommandResult(status: process.terminationStatus,
                               stdout: String(decoding: outData, as: UTF8.self),
                               stderr: String(decoding: errData.get(), as: UTF8.self))
    if check && result.status != 0 {
        throw LabError("\(executable) \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
    }
    return result
}

/// A value shared between threads under a lock.
final class Locked<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ value: T) { self.value = value }
    func get() -> T { lock.withLock { value } }
    func set(_ new: T) { lock.withLock { value = new } }
    func mutate<R>(_ body: (inout T) -> R) -> R { lock.withLock { body(&value) } }
}

extension Process {
    /// Sets what to run, with pipes for its output and errors and `input` (or
    /// nothing) on its standard input; the pipes are returned for reading.
    func prepare(_ executable: String, _ arguments: [String], input: Pipe? = nil) -> (out: Pipe, err: Pipe) {
        executableURL = URL(fileURLWithPath: executable)
        self.arguments = arguments
        let out = Pipe(), err = Pipe()
        standardOutput = out
        standardError = err
        standardInput = input ?? FileHandle.nullDevice
        return (out, err)
    }
}

/// Calls `line` with every line `pipe` carries (without its newline), on a
/// thread of its own, until the writer closes it.
func readLines(of pipe: Pipe, _ line: @escaping @Sendable (Data) -> Void) {
    Thread.detachNewThread {
        var buffer = Data()
        while true {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            while let nl = buffer.firstIndex(of: 0x0a) {
                line(Data(buffer[buffer.startIndex..<nl]))
                buffer = Data(buffer[(nl + 1)...])
            }
        }
    }
}
