import Foundation
import MPTCPKit
import Testing

/// `mptcpctl top` on a real terminal (a detached tmux pane, 160 × 50) inside the
/// client namespace of a two-path lab during a bulk upload: the per-path rates it
/// shows agree within 15 % with what the server's subflows received per path (read
/// with `ss`, independently of mptcpctl), a path whose link goes down shows it in
/// the next frames, and `q` (and Ctrl-C) quit with the terminal as it was.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class TopKernelTests {
    let lab: Lab
    let port = 5311

    init() throws {
        lab = try Lab(paths: 2, rateMbit: 16)
    }

    deinit { lab.close() }

    @Test func topShowsEachPathsMeasuredRateAPathGoingDownAndQuitsRestoringTheTerminal() throws {
        try PathManager(namespace: lab.clientNamespace).setLimits(subflows: 2, addAddrAccepted: 0)
        try PathManager(namespace: lab.serverNamespace).setLimits(subflows: 2, addAddrAccepted: 2)
        let a2 = try #require(try InterfaceTable.read(namespace: lab.clientNamespace).index(of: "a2"))
        try PathManager(namespace: lab.clientNamespace).addEndpoint(
            Endpoint(id: 1, address: lab.address("a", path: 2), flags: .subflow, interfaceIndex: a2))
        let server = try lab.peer(lab.server, ["server", "--bind", "0.0.0.0", "--port", String(port)])
        defer { server.stop() }
        _ = try server.wait(for: "listening")
        let client = try lab.peer(lab.client, ["client", "--connect", "10.0.1.2", "--port", String(port), "--seconds", "300"])
        defer { client.stop() }
        _ = try client.wait(for: "connected")
        // Both paths carry before anything is measured.
        try waitFor("both paths carrying", seconds: 30) {
            let first = try receivedPerPath()
            Thread.sleep(forTimeInterval: 0.5)
            let second = try receivedPerPath()
            return [1, 2].allSatisfy { (second[$0] ?? 0) > (first[$0] ?? 0) }
        }

        let pane = try Pane(name: lab.name)
        defer { pane.close() }
        let before = pane.file("before"), after = pane.file("after")
        pane.type("stty -g > \(before); ip netns exec \(lab.client) \(Repository.mptcpctl) top --interval 1; echo top-exited-$?")
        try waitFor("top's first frame", seconds: 30) { pane.capture().contains("a2/ipv4") }

        // Rates: the frames shown during a window against the server's bytes received in it.
        var shown: [Int: [Double]] = [1: [], 2: []]
        var frames: Set<String> = []
        let start = try receivedPerPath(), t0 = ProcessInfo.processInfo.systemUptime
        while ProcessInfo.processInfo.systemUptime - t0 < 8 || frames.count < 5 {
            Thread.sleep(forTimeInterval: 0.3)
            let screen = pane.capture()
            guard let header = screen.split(separator: "\n").first(where: { $0.hasPrefix("mptcpctl top") }),
                  frames.insert(String(header)).inserted else { continue }
            for path in [1, 2] {
                if let rates = Self.rates(on: "a\(path)/ipv4", in: screen) { shown[path, default: []].append(rates.sent) }
            }
            #expect(ProcessInfo.processInfo.systemUptime - t0 < 120, "top drew no new frame for two minutes")
            if ProcessInfo.processInfo.systemUptime - t0 > 120 { break }
        }
        let end = try receivedPerPath(), elapsed = ProcessInfo.processInfo.systemUptime - t0
        for path in [1, 2] {
            let measured = Double((end[path] ?? 0) - (start[path] ?? 0)) / elapsed
            let values = try #require(shown[path], "no a\(path)/ipv4 row")
            // The first frame seen may cover time before the window: left out.
            let mean = values.dropFirst().reduce(0, +) / Double(max(1, values.count - 1))
            #expect(measured > 100_000, "path \(path) carried \(measured) B/s")
            #expect(abs(mean - measured) <= 0.15 * measured,
                    "path \(path): top showed \(values) B/s (mean \(mean)), the server received \(measured) B/s")
        }

        // A path going down shows in the next frames: its link down, nothing sent on it.
        try lab.exec(lab.client, ["ip", "link", "set", "a2", "down"])
        try waitFor("a2's link down and no rate on it", seconds: 30) {
            let screen = pane.capture()
            guard let row = screen.split(separator: "\n").first(where: { $0.hasPrefix("a2/ipv4") }) else { return false }
            return row.contains(" down ") && Self.rates(on: "a2/ipv4", in: screen)?.sent == 0
        }
        #expect(Self.rates(on: "a1/ipv4", in: pane.capture()).map { $0.sent > 0 } == true, "path 1 still carries")

        // q quits; the terminal is as it was before top.
        pane.send(key: "q")
        try waitFor("top to exit on q", seconds: 30) { pane.capture().contains("top-exited-0") }
        #expect(!pane.capture().contains("PATH "), "the alternate screen is gone")
        // The echo's output differs from the typed line, so finding it means the line ran.
        pane.type("stty -g > \(after); echo saved-$((1+1))")
        try waitFor("stty after q", seconds: 30) { pane.capture().contains("saved-2") }
        #expect(try String(contentsOfFile: after, encoding: .utf8) == String(contentsOfFile: before, encoding: .utf8))

        // Ctrl-C too: top dies of SIGINT with the terminal restored.
        // (bash drops the rest of a command list whose command died of SIGINT: the status is asked apart.)
        pane.type("clear; ip netns exec \(lab.client) \(Repository.mptcpctl) top --interval 1")
        try waitFor("top's frame again", seconds: 30) { pane.capture().contains("a1/ipv4") }
        pane.send(key: "C-c")
        try waitFor("top to exit on Ctrl-C", seconds: 30) { !pane.capture().contains("a1/ipv4") }
        pane.type("echo interrupted-$?; stty -g > \(after); echo saved-$((2+2))")
        try waitFor("stty after Ctrl-C", seconds: 30) { pane.capture().contains("saved-4") }
        #expect(pane.capture().contains("interrupted-130"), "top died of SIGINT: \(pane.capture())")
        #expect(try String(contentsOfFile: after, encoding: .utf8) == String(contentsOfFile: before, encoding: .utf8))
    }

    /// Bytes the server's subflows received, per client path (by the client's address on it), from `ss -tni`.
    func receivedPerPath() throws -> [Int: UInt64] {
        let text = try lab.exec(lab.server, ["ss", "-tniH", "state", "established", "( sport = :\(port) )"]).stdout
        var total: [Int: UInt64] = [:]
        var path: Int?
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: \.isWhitespace)
            if let first = line.first, !first.isWhitespace {
                // With one state asked for, ss leaves the state column out: Recv-Q Send-Q Local Peer.
                path = words.count >= 4 ? [1, 2].first { words[3].hasPrefix("10.0.\($0).1:") } : nil
            } else if let path, let word = words.first(where: { $0.hasPrefix("bytes_received:") }) {
                total[path, default: 0] += UInt64(word.dropFirst("bytes_received:".count)) ?? 0
            }
        }
        return total
    }

    /// The sent and received rates on a path's row (`2.50 MB/s` forms, in bytes per second).
    static func rates(on path: String, in screen: String) -> (sent: Double, received: Double)? {
        guard let row = screen.split(separator: "\n").first(where: { $0.hasPrefix(path + " ") }) else { return nil }
        let words = row.split(separator: " ")
        var values: [Double] = []
        for (i, word) in words.enumerated() where i > 0 && word.hasSuffix("B/s") {
            let unit: Double = switch word {
            case "B/s": 1
            case "kB/s": 1e3
            case "MB/s": 1e6
            case "GB/s": 1e9
            default: 0
            }
            if let value = Double(words[i - 1]) { values.append(value * unit) }
        }
        return values.count >= 2 ? (values[0], values[1]) : nil
    }

    /// Polls `condition` until it holds, or fails after `seconds` (no timed assertion: a generous deadline).
    func waitFor(_ what: String, seconds: Double, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw LabError("no \(what) within \(seconds) s")
    }
}

/// A detached tmux session (its own server socket, `-L`) running a plain bash:
/// what a user's terminal is to `top`.
final class Pane: @unchecked Sendable {
    let socket: String
    let directory: String

    init(name: String) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") else {
            throw LabError("/usr/bin/tmux is missing (Debian's tmux; `make deps` installs it)")
        }
        socket = "mptcpctl-top-" + name
        directory = NSTemporaryDirectory() + socket
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // The tmux server daemonizes keeping the descriptors it inherited, Foundation's way of noticing
        // a child's exit among them (the client would never be reaped), and the test runner's blocked
        // signals (kill-server's SIGHUP would never end the pane's shell): python starts it with neither.
        guard let python = Repository.python else { throw LabError("python3 is missing") }
        try run(python, ["-c", """
            import signal, subprocess, sys
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            sys.exit(subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, close_fds=True).returncode)
            """, "/usr/bin/env", "TERM=xterm-256color", "LANG=C.UTF-8", "/usr/bin/tmux", "-L", socket, "new-session", "-d",
                         "-x", "160", "-y", "50", "/bin/bash --norc --noprofile"])
    }

    /// A path in this pane's scratch directory.
    func file(_ name: String) -> String { directory + "/" + name }

    /// Types a command line and Enter.
    func type(_ line: String) {
        _ = try? run("/usr/bin/tmux", ["-L", socket, "send-keys", "-l", line])
        send(key: "Enter")
    }

    /// One key, in tmux's names (`q`, `C-c`, `Enter`).
    func send(key: String) { _ = try? run("/usr/bin/tmux", ["-L", socket, "send-keys", key]) }

    /// What the pane shows now.
    func capture() -> String { (try? run("/usr/bin/tmux", ["-L", socket, "capture-pane", "-p"]).stdout) ?? "" }

    func close() {
        _ = try? run("/usr/bin/tmux", ["-L", socket, "kill-server"], check: false)
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { close() }
}
