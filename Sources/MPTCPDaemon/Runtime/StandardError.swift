#if canImport(Glibc)
import Glibc
#endif

/// The process's standard error, written with write(2): what
/// `FileHandle.standardError` gave the daemon, without linking full Foundation
/// (FoundationEssentials has no FileHandle).
enum StandardError {
    /// Writes `text` whole, continuing after a short write or a signal. A
    /// closed or broken standard error loses the text: there is nowhere else
    /// to say so.
    static func write(_ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(2, base + offset, buffer.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
