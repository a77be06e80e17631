import Foundation
import Testing

/// `make install` into a DESTDIR: the expected files, stripped binaries with
/// their debug info apart, a unit systemd accepts, the dispatcher hook and the
/// shell completions. No kernel needed.
@Suite struct InstallTests {
    @Test func installPutsTheExpectedFilesAndTheUnitVerifies() throws {
        let destination = FileManager.default.temporaryDirectory.appendingPathComponent("mptcpctl-install-\(getpid())-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: destination) }
        let binaries = URL(fileURLWithPath: Repository.mptcpctl).deletingLastPathComponent().path
        let make = try run("/usr/bin/make", ["-s", "-C", Repository.root.path, "install-files",
                                             "DESTDIR=\(destination.path)", "BINARIES=\(binaries)"])
        #expect(make.status == 0)

        let root = destination.path
        let found = try FileManager.default.subpathsOfDirectory(atPath: root)
            .filter { var d: ObjCBool = false; return FileManager.default.fileExists(atPath: root + "/" + $0, isDirectory: &d) && !d.boolValue }
            .sorted()
        #expect(found == [
            "etc/NetworkManager/dispatcher.d/90-mptcpctl",
            "etc/mptcpctl/mptcpctld.toml",
            "etc/systemd/system/mptcpctld.service",
            "usr/local/bin/mptcpctl",
            "usr/local/bin/mptcpctld",
            "usr/local/lib/debug/usr/local/bin/mptcpctl.debug",
            "usr/local/lib/debug/usr/local/bin/mptcpctld.debug",
            "usr/local/share/bash-completion/completions/mptcpctl",
            "usr/local/share/fish/vendor_completions.d/mptcpctl.fish",
            "usr/local/share/man/man5/mptcpctld.toml.5",
            "usr/local/share/man/man8/mptcpctl.8",
            "usr/local/share/man/man8/mptcpctld.8",
            "usr/local/share/zsh/vendor-completions/_mptcpctl",
        ])
        #expect(FileManager.default.isExecutableFile(atPath: root + "/etc/NetworkManager/dispatcher.d/90-mptcpctl"))
        for binary in ["mptcpctl", "mptcpctld"] {
            let installed = root + "/usr/local/bin/" + binary
            #expect(FileManager.default.isExecutableFile(atPath: installed))
            let sections = try run("/usr/bin/readelf", ["-S", "-W", installed]).stdout
            #expect(!sections.contains(".debug_info") && !sections.contains(".symtab"), "\(binary) is installed stripped")
            #expect(sections.contains(".gnu_debuglink"), "\(binary) names its debug file")
            let link = try run("/usr/bin/readelf", ["-p", ".gnu_debuglink", installed]).stdout
            #expect(link.contains(binary + ".debug"))
            let debug = try run("/usr/bin/readelf", ["-S", "-W", root + "/usr/local/lib/debug/usr/local/bin/\(binary).debug"]).stdout
            #expect(debug.contains(".debug_info") && debug.contains(".symtab"), "\(binary).debug keeps the debug info and symbols")
        }
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: root + "/etc/mptcpctl/hooks.d", isDirectory: &isDirectory) && isDirectory.boolValue,
                "the hooks directory, empty")
        let hook = try String(contentsOfFile: root + "/etc/NetworkManager/dispatcher.d/90-mptcpctl", encoding: .utf8)
        #expect(hook.contains("MPTCPCTL=${MPTCPCTL:-/usr/local/bin/mptcpctl}"))
        let bash = try String(contentsOfFile: root + "/usr/local/share/bash-completion/completions/mptcpctl", encoding: .utf8)
        #expect(bash.contains("complete") && bash.contains("status") && bash.contains("dispatch"))
        let zsh = try String(contentsOfFile: root + "/usr/local/share/zsh/vendor-completions/_mptcpctl", encoding: .utf8)
        #expect(zsh.hasPrefix("#compdef mptcpctl"))
        let fish = try String(contentsOfFile: root + "/usr/local/share/fish/vendor_completions.d/mptcpctl.fish", encoding: .utf8)
        #expect(fish.contains("complete -c 'mptcpctl'"))

        // systemd-analyze verify: the unit as installed, pointed at the installed
        // binary, with the installed man pages (Documentation= is checked too).
        let unit = try String(contentsOfFile: root + "/etc/systemd/system/mptcpctld.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/mptcpctld\n"))
        let checked = destination.appendingPathComponent("mptcpctld.service").path
        try unit.replacingOccurrences(of: "ExecStart=/usr/local/bin/mptcpctld", with: "ExecStart=\(root)/usr/local/bin/mptcpctld")
            .write(toFile: checked, atomically: true, encoding: .utf8)
        let verify = try run("/usr/bin/env", ["MANPATH=\(root)/usr/local/share/man", "systemd-analyze", "verify", checked], check: false)
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stderr.isEmpty, "\(verify.stderr)")
    }
}
