import Logging
import MPTCPKit
import MPTCPPolicy

/// The health thread's probe sockets: one ICMP echo socket per path (opened
/// when its first echo probe is due, again when the path's source or
/// interface changes) and the TCP connect probes in flight. Used on the health
/// thread only.
final class ProbeSockets {
    /// What came of a probe: answered, or failed at once.
    enum Outcome {
        case answered(PathKey, UInt16)
        case failed(PathKey, UInt16)
    }

    /// Where sockets are opened: `.current` once the thread entered the daemon's namespace.
    var namespace: NetworkNamespace
    private let logger: Logger
    private var echo: [PathKey: EchoProbeSocket] = [:]
    private var connects: [Int32: (key: PathKey, sequence: UInt16, probe: ConnectProbe)] = [:]
    /// Paths whose socket failed to open, with the error text, logged once until it changes.
    private var openFailures: [PathKey: String] = [:]

    init(namespace: NetworkNamespace, logger: Logger) {
        self.namespace = namespace
        self.logger = logger
    }

    /// The descriptors to wait on.
    var descriptors: [Int32] { echo.values.map(\.fileDescriptor).filter { $0 >= 0 } + Array(connects.keys) }

    /// Sends probe `sequence` of `path` to `target`: nil while it is in flight,
    /// else its outcome at once (a connect that ended already, a failure to send).
    func send(_ path: ProbePath, to target: ProbeDestination, sequence: UInt16) -> Outcome? {
        do throws(MPTCPError) {
            if let port = target.port {
                let probe = try ConnectProbe(source: path.source, interface: path.key.interface, target: target.address,
                                             port: port, namespace: namespace)
                if let outcome = probe.outcome() {
                    probe.close()
                    return settle(path.key, sequence, outcome)
                }
                connects[probe.fileDescriptor] = (path.key, sequence, probe)
            } else {
                try socket(for: path).send(to: target.address, sequence: sequence)
            }
            openFailures[path.key] = nil
            return nil
        } catch {
            let text = "\(error)"
            if openFailures[path.key] != text {
                logger.warning("cannot send a health probe", metadata: ["path": "\(path.key)", "target": "\(target)", "error": "\(text)"])
                openFailures[path.key] = text
            }
            return .failed(path.key, sequence)
        }
    }

    /// The echo socket of `path`, opened (again) when needed.
    private func socket(for path: ProbePath) throws(MPTCPError) -> EchoProbeSocket {
        if let s = echo[path.key], s.source == path.source, s.interface == path.key.interface, s.fileDescriptor >= 0 { return s }
        echo[path.key]?.close()
        let s = try EchoProbeSocket(source: path.source, interface: path.key.interface, identifier: UInt16.random(in: 1...UInt16.max),
                                    namespace: namespace)
        echo[path.key] = s
        return s
    }

    /// The outcomes among the ready descriptors `ready`.
    func collect(_ ready: Set<Int32>) -> [Outcome] {
        var outcomes: [Outcome] = []
        for (key, s) in echo where ready.contains(s.fileDescriptor) {
            do {
                for reply in try s.receive() {
                    switch reply.kind {
                    case .echoReply: outcomes.append(.answered(key, reply.sequence))
                    case .unreachable, .timeExceeded: outcomes.append(.failed(key, reply.sequence))
                    }
                }
            } catch {
                logger.warning("cannot read health probe answers; reopening the socket", metadata: ["path": "\(key)", "error": "\(error)"])
                s.close()
            }
        }
        for fd in ready {
            guard let c = connects[fd], let outcome = c.probe.outcome() else { continue }
            c.probe.close()
            connects[fd] = nil
            outcomes.append(settle(c.key, c.sequence, outcome))
        }
        return outcomes
    }

    private func settle(_ key: PathKey, _ sequence: UInt16, _ outcome: ConnectProbe.Outcome) -> Outcome {
        switch outcome {
        case .answered: return .answered(key, sequence)
        case .failed(let error):
            logger.debug("health connect probe failed", metadata: ["path": "\(key)", "sequence": "\(sequence)", "error": "\(error)"])
            return .failed(key, sequence)
        }
    }

    /// Gives up on the connect probes of `key` that timed out.
    func expire(_ key: PathKey, sequences: [UInt16]) {
        let wanted = Set(sequences)
        for (fd, c) in connects where c.key == key && wanted.contains(c.sequence) {
            c.probe.close()
            connects[fd] = nil
        }
    }

    /// Closes everything of `key` (a path no longer judged).
    func close(_ key: PathKey) {
        echo.removeValue(forKey: key)?.close()
        for (fd, c) in connects where c.key == key {
            c.probe.close()
            connects[fd] = nil
        }
        openFailures[key] = nil
    }

    func closeAll() {
        for key in Set(echo.keys).union(connects.values.map(\.key)) { close(key) }
    }
}
