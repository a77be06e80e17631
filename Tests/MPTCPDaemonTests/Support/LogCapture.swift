import Logging

/// A log handler that keeps every line (message and metadata) for a test to read.
final class LogCapture: @unchecked Sendable {
    struct Line {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private(set) var lines: [Line] = []

    /// A logger writing here, at trace level.
    var logger: Logger {
        Logger(label: "test") { _ in Handler(capture: self) }
    }

    /// The lines whose message is `message`.
    func lines(_ message: String) -> [Line] { lines.filter { $0.message == message } }

    fileprivate func append(_ line: Line) { lines.append(line) }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var fields: [String: String] = [:]
            for (k, v) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, b in b }) { fields[k] = "\(v)" }
            capture.append(Line(level: event.level, message: "\(event.message)", metadata: fields))
        }
    }
}
