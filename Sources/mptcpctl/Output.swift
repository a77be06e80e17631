#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MPTCPAPI
import MPTCPKit
#if canImport(Glibc)
import Glibc
#endif

/// Everything the CLI writes goes through here: aligned tables, JSON, errors.
enum Output {
    /// Writes a line to standard output at once (no stdio buffer, so an
    /// interrupted `monitor` loses nothing).
    static func line(_ text: String) { write(text + "\n", to: 1) }
    /// `text` as it is (lines already ended).
    static func text(_ text: String) { write(text, to: 1) }

    /// A line on standard error.
    static func error(_ text: String) { write(text + "\n", to: 2) }

    /// Something the user may want to know that is not a failure (which path a command
    /// took). Silenced by `-q/--quiet`; with `--json`, a `{"note": TEXT}` object, so
    /// standard error stays JSON.
    static func note(_ text: String) {
        let invocation = Invocation.current
        if invocation.quiet { return }
        if invocation.json {
            errorJSON(["note": .string(text)])
        } else {
            write("mptcpctl: note: " + text + "\n", to: 2)
        }
    }

    /// One JSON value on one line of standard error (an error or a note with --json).
    static func errorJSON(_ value: JSONValue) { write(RPCWire.text(value) + "\n", to: 2) }

    private static func write(_ text: String, to fd: Int32) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            // A closed pipe (`| head`) ends the program quietly, as other tools do.
            guard n > 0 else { _exit(0) }
            bytes = bytes.dropFirst(n)
        }
    }

    /// One JSON document on one line.
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        let data = try encoder.encode(value)
        line(String(decoding: data, as: UTF8.self))
    }

    /// Rows padded to the widest cell of each column; the last column is not padded.
    static func table(_ header: [String], _ rows: [[String]]) {
        let all = [header] + rows
        let widths = header.indices.map { col in all.map { $0.indices.contains(col) ? $0[col].count : 0 }.max() ?? 0 }
        for row in all {
            var text = ""
            for (col, cell) in row.enumerated() {
                if col == row.count - 1 {
                    text += cell
                } else {
                    text += cell + String(repeating: " ", count: widths[col] - cell.count + 2)
                }
            }
            while text.last == " " { text.removeLast() }
            line(text)
        }
    }
}

// MARK: - JSON shapes (field names are documented in mptcpctl(8); keep them stable)

struct LimitsJSON: Encodable {
    var subflows: UInt32
    var add_addr_accepted: UInt32
}
