import Foundation

/// A real Prometheus server (Debian's `prometheus`, which `make test` installs)
/// run inside a lab namespace on that namespace's loopback, scraping one target
/// every second, with its data in a temporary directory. `stop()` (also run by
/// `deinit`) ends it and removes the directory. Queries go through its HTTP API
/// from inside the namespace, as a Grafana next to it would send them.
final class Prometheus: @unchecked Sendable {
    static let binary = "/usr/bin/prometheus"
    /// Whether the package is installed (without it the test skips, or fails when required).
    static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    let namespace: String
    let address: String
    let directory: URL
    let process = Process()
    var logPath: String { directory.appendingPathComponent("prometheus.log").path }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Starts Prometheus in `namespace`, listening on `address` (`127.0.0.1:PORT`),
    /// scraping `target` (`HOST:PORT`, path /metrics) every second as job `mptcpctld`.
    init(namespace: String, address: String, target: String) throws {
        guard Self.isInstalled else {
            throw LabError("\(Self.binary) is missing (Debian's prometheus; `make deps` installs it)")
        }
        self.namespace = namespace
        self.address = address
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("prometheus-test-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        let config = """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: mptcpctld
                static_configs:
                  - targets: ["\(target)"]

            """
        let configPath = directory.appendingPathComponent("prometheus.yml").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        // `ip netns exec` execs prometheus: the process keeps ip's pid, so terminate() reaches it.
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, Self.binary, "--config.file=" + configPath,
                             "--storage.tsdb.path=" + directory.appendingPathComponent("data").path,
                             "--web.listen-address=" + address, "--log.level=warn"]
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = logHandle
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit { stop() }

    /// Ends Prometheus (SIGTERM, SIGKILL after 10 s) and removes its directory
    /// unless MPTCPCTL_KEEP_TEST_DIRS=1.
    func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        if ProcessInfo.processInfo.environment["MPTCPCTL_KEEP_TEST_DIRS"] != "1" {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// One sample of an instant query's result: its labels and value.
    struct Sample: CustomStringConvertible {
        var labels: [String: String]
        var value: Double
        var description: String { "\(labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")) \(value)" }
    }

    /// `/api/v1/query` of `expression` at `time` (Unix seconds; nil: now): the
    /// vector's samples (a scalar is one sample without labels). A query
    /// Prometheus refuses is an error with its message.
    func query(_ expression: String, at time: Double? = nil) throws -> [Sample] {
        guard let python = Repository.python else { throw LabError("python3 is missing") }
        let script = """
            import sys, urllib.error, urllib.parse, urllib.request
            params = {"query": sys.argv[2]}
            if len(sys.argv) > 3: params["time"] = sys.argv[3]
            try:
                print(urllib.request.urlopen(sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode(params), timeout=30).read().decode())
            except urllib.error.HTTPError as e:
                print(e.read().decode())
            """
        var arguments = ["netns", "exec", namespace, python, "-c", script, "http://\(address)", expression]
        if let time { arguments.append(String(format: "%.3f", time)) }
        let text = try run("/usr/sbin/ip", arguments).stdout
        guard let answer = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw LabError("Prometheus's answer to \(expression) is no JSON object: \(text)")
        }
        guard answer["status"] as? String == "success", let data = answer["data"] as? [String: Any] else {
            throw LabError("Prometheus refused \(expression): \(text)")
        }
        func value(_ pair: Any?) -> Double? {
            guard let pair = pair as? [Any], pair.count == 2, let string = pair[1] as? String else { return nil }
            return Double(string)
        }
        switch data["resultType"] as? String {
        case "vector":
            return (data["result"] as? [[String: Any]] ?? []).compactMap { item in
                value(item["value"]).map { Sample(labels: item["metric"] as? [String: String] ?? [:], value: $0) }
            }
        case "scalar":
            return value(data["result"]).map { [Sample(labels: [:], value: $0)] } ?? []
        default:
            throw LabError("Prometheus answered \(expression) with an unexpected result: \(text)")
        }
    }

    /// Waits (up to `seconds`) until `condition` holds, failing with the log when Prometheus ended.
    func waitUntil(_ what: String, seconds: Double = 120, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        var lastError: Error?
        while Date() < deadline {
            if !process.isRunning { throw LabError("prometheus exited (\(process.terminationStatus)) before \(what):\n\(log)") }
            do {
                if try condition() { return }
            } catch {
                lastError = error
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
        throw LabError("not within \(seconds) s: \(what); last error: \(lastError.map { "\($0)" } ?? "none")\n--- prometheus log ---\n\(log)")
    }
}
