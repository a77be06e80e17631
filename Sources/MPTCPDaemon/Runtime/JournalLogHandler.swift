import Logging
import MPTCPAPI
#if canImport(Glibc)
import Glibc
#endif

/// Writes one line per record to stderr: `LEVEL message key=value ...`.
/// Under systemd (`JOURNAL_STREAM` set) each line starts with the syslog
/// priority (`<6>`), so journald stores the level; `journalctl -p warning` works.
struct JournalLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    let journal: Bool

    init(label: String, level: Logger.Level, journal: Bool) {
        self.logLevel = level
        self.journal = journal
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let level = event.level
        var all = metadata
        if let explicit = event.metadata { all.merge(explicit) { _, new in new } }
        if let error = event.error { all["error"] = "\(error)" }
        let message = event.message
        var text = journal ? "<\(Self.priority(level))>" : ""
        text += level.rawValue + " " + message.description
        for (key, value) in all.sorted(by: { $0.key < $1.key }) {
            text += " " + key + "=" + LogValue.quoted(value.description)
        }
        StandardError.write(text + "\n")
    }

    /// syslog priorities (sd-daemon(3) prefixes).
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }
}
