#if canImport(Glibc)
import Glibc
#endif

/// The directory operations the daemon took from full Foundation (NSString's
/// path arithmetic, FileManager's error texts), on Glibc: FoundationEssentials
/// has no NSString, and its FileManager errors carry no readable description.
enum Directory {
    /// The directory `path` names an entry of, as NSString's
    /// `deletingLastPathComponent`: `/run/mptcpctl` for
    /// `/run/mptcpctl/mptcpctld.sock`, `/` for `/run` and `/`, empty for a
    /// bare name. Trailing slashes are not a component.
    static func containing(_ path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "" }
        var parent = p[..<slash]
        while parent.hasSuffix("/") { parent = parent.dropLast() }
        return parent.isEmpty ? "/" : String(parent)
    }

    /// Creates `path` and every missing directory above it with `mode` (as
    /// `mkdir -p -m`); an existing directory is fine and keeps its mode. Returns the errno of the
    /// first failure (`ENOTDIR` when something else is in the way), nil on success.
    static func create(_ path: String, mode: mode_t) -> Int32? {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            // As FileManager with .posixPermissions: the mode whatever the umask.
            if mkdir(prefix, mode) == 0 { _ = chmod(prefix, mode); continue }
            let code = errno
            var info = stat()
            guard code == EEXIST, stat(prefix, &info) == 0 else { return code }
            if info.st_mode & S_IFMT != S_IFDIR { return ENOTDIR }
        }
        return nil
    }
}
