import ArgumentParser
import MPTCPAPI
import MPTCPKit
#if canImport(Glibc)
import Glibc
#endif

/// `mptcpctl top`: a live view of what each path and connection carries, from
/// deltas of the kernel's byte counters (MPTCPAPI's `TopFrameBuilder`), with
/// mptcpctld's path health and policies when it answers.
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Show live per-path and per-connection rates, RTT, retransmits, backup mode and health.",
        discussion: """
            Rates are deltas of the subflows' tcp_info byte counters (sent: bytes acknowledged by the peer) over \
            the measured time between two readings. On a terminal: keys s (next sort) and q (quit). Otherwise \
            one frame per interval as text, or one JSON object per line with --json; --once prints one frame \
            (two readings --interval apart) and exits. Health and policies come from mptcpctld when it answers.
            """
    )

    /// Shorter intervals make rates out of a few packets and cost a connection dump each.
    static let minimumInterval = 0.5
    static let maximumInterval = 3600.0

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Seconds between frames (\(TopText.fixed(minimumInterval, decimals: 1)) to 3600).",
                               valueName: "SECONDS"))
    var interval: Double = 1
    @Option(name: .customLong("connections"), help: ArgumentHelp("Show at most N connections, fastest first (0: none).",
                                                                 valueName: "N"))
    var connectionLimit: Int = 10
    @Option(help: ArgumentHelp("Sort connections by KEY: rate, sent, received, retransmits.", valueName: "KEY"),
            completion: .list(TopSortKey.allCases.map(\.rawValue)))
    var sort: String = TopSortKey.rate.rawValue
    @Flag(help: "Print one frame (two readings --interval apart) and exit.") var once = false

    func validate() throws {
        guard interval.isFinite, interval >= Self.minimumInterval, interval <= Self.maximumInterval else {
            throw ValidationError("--interval \(interval): give \(Self.minimumInterval) to \(Int(Self.maximumInterval)) seconds "
                                  + "(below \(Self.minimumInterval) s a rate is a few packets' worth)")
        }
        guard connectionLimit >= 0 else { throw ValidationError("--connections \(connectionLimit): give 0 or more") }
        guard TopSortKey(rawValue: sort) != nil else {
            throw ValidationError("--sort \"\(sort)\": give one of " + TopSortKey.allCases.map(\.rawValue).joined(separator: ", "))
        }
    }

    func run() throws {
        var view = try TopView(namespace: try global.namespace(), socketPath: try global.socketPath,
                               sort: TopSortKey(rawValue: sort) ?? .rate, connectionLimit: connectionLimit)
        TopTerminal.catchStopSignals()
        let live = !once && !global.json && isatty(1) == 1
        var session: TopTerminal.Session?
        defer { session?.restore() }
        var next = TopTerminal.monotonicSeconds()
        _ = try view.read()
        if live { session = TopTerminal.Session(keys: isatty(0) == 1) }
        while true {
            next += interval
            if let key = TopTerminal.waitForKey(until: next, keys: session != nil) {
                if key == UInt8(ascii: "q") || key == UInt8(ascii: "Q") { return }
                if key == UInt8(ascii: "s") || key == UInt8(ascii: "S") {
                    view.sort = view.sort.next
                    if let session { session.draw(view.lines(live: true)) }
                }
                next -= interval  // a key does not start a new interval
                continue
            }
            let signal = TopTerminal.stopSignal.load(ordering: .relaxed)
            if signal != 0 {
                session?.restore()
                Glibc.signal(signal, SIG_DFL)
                raise(signal)
                return
            }
            guard let frame = try view.read() else { continue }
            if global.json {
                Output.line(RPCWire.text(frame.json(connections: connectionLimit, sort: view.sort)))
            } else if let session {
                session.draw(view.lines(live: true))
            } else {
                Output.text(view.lines(live: false).joined(separator: "\n") + "\n\n")
            }
            if once { return }
            // A late reading (a slow dump) does not make the next interval short.
            next = max(next, TopTerminal.monotonicSeconds() - interval / 2)
        }
    }
}

/// What `top` reads each interval and the frames it made: the kernel's tables,
/// and mptcpctld (asked again each time, so a daemon started later is found).
struct TopView {
    let namespace: NetworkNamespace
    let socketPath: String
    var sort: TopSortKey
    let connectionLimit: Int
    private var builder = TopFrameBuilder()
    private var daemon: DaemonConnection?
    private var noted = false
    /// The policies of the daemon's last `connections` answer, the kernel's
    /// tokens when it was asked, and when (monotonic seconds).
    private var policies: [UInt32: String] = [:]
    private var policyTokens: Set<UInt32> = []
    private var policiesAt = -Double.infinity
    private(set) var latest: TopFrame?
    private var clock = ""

    init(namespace: NetworkNamespace, socketPath: String, sort: TopSortKey, connectionLimit: Int) throws {
        self.namespace = namespace
        self.socketPath = socketPath
        self.sort = sort
        self.connectionLimit = connectionLimit
    }

    /// One reading; the frame since the previous one (nil for the first).
    mutating func read() throws -> TopFrame? {
        let connections = try ConnectionTable.read(namespace: namespace)
        // Rates divide by the time between two connection dumps: the clock is read right after it.
        let monotonic = TopTerminal.monotonicSeconds()
        let links = try NetworkSnapshot.read(namespace: namespace).links
        let wall = TopTerminal.wallClock()
        let (health, policies) = askDaemon(tokens: Set(connections.map(\.token)), now: monotonic)
        clock = wall.text
        let frame = builder.frame(TopReading(connections: connections, links: links, health: health, policies: policies,
                                             monotonic: monotonic, wallClock: wall.seconds))
        if let frame { latest = frame }
        return frame
    }

    /// Seconds after which policies are asked for again even without a new
    /// connection (a reload can change them).
    static let policyRefreshSeconds = 10.0

    /// The daemon's path health and policies, or nil (noted once) when none answers.
    /// Health is asked every frame. Policies change only with a new connection or a
    /// reload, and the daemon's `connections` answer costs it a full sock_diag dump
    /// and its encoding (3.8 % of a core at 1 000 connections and one frame a
    /// second, measured by `make bench-observability`): they are asked only when
    /// the kernel shows a connection the last answer did not cover, or every
    /// `policyRefreshSeconds`.
    private mutating func askDaemon(tokens: Set<UInt32>, now: Double) -> ([PathRecord]?, [UInt32: String]) {
        do {
            if daemon == nil { daemon = try DaemonConnection.ifRunning(socketPath) }
            guard let daemon else {
                if !noted { Output.note("no mptcpctld answers on \(socketPath); health shows -") }
                noted = true
                return (nil, [:])
            }
            // A daemon without path health (its health thread off) answers `paths`
            // with an error: it still answers, and its policies still count.
            let paths: [PathRecord]? = switch try daemon.call(ControlMethods.Paths.self, NoParams()) {
            case .success(let answer): answer.record
            case .failure: nil
            }
            if !tokens.isSubset(of: policyTokens) || now - policiesAt >= Self.policyRefreshSeconds {
                var fresh: [UInt32: String] = [:]
                for entry in try daemon.result(ControlMethods.Connections.self).record {
                    if let policy = entry.policy { fresh[entry.token] = policy }
                }
                (policies, policyTokens, policiesAt) = (fresh, tokens, now)
            }
            return (paths, policies)
        } catch {
            // The daemon went away (or refused): the kernel's view goes on; try again next time.
            daemon = nil
            (policies, policyTokens, policiesAt) = ([:], [], -Double.infinity)
            return (nil, [:])
        }
    }

    /// The latest frame as text for the terminal (or a plain-output width).
    func lines(live: Bool) -> [String] {
        guard let latest else { return [] }
        let size = TopTerminal.size()
        let width = size?.width ?? getenv("COLUMNS").map { String(cString: $0) }.flatMap { Int($0) } ?? 120
        let options = TopTextOptions(sort: sort, connections: connectionLimit, height: live ? size?.height : nil,
                                     interactive: live, unicode: Self.unicode, clock: clock)
        return latest.lines(width: width, options)
    }

    /// Whether the locale takes UTF-8 (block-character sparklines), from LC_ALL, LC_CTYPE, LANG in that order.
    static let unicode: Bool = {
        for name in ["LC_ALL", "LC_CTYPE", "LANG"] {
            guard let value = getenv(name).map({ String(cString: $0) }), !value.isEmpty else { continue }
            let lower = value.lowercased()
            return lower.contains("utf-8") || lower.contains("utf8")
        }
        return false
    }()
}
