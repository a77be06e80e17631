import ArgumentParser
import MPTCPAPI
import MPTCPKit

/// `mptcpctl doctor`: checks everything that makes MPTCP work in this namespace
/// and says, for each thing that does not, why and what fixes it. The checks
/// are MPTCPKit's (Diagnosis); this command gathers the daemon's view, runs
/// them and prints them.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check everything MPTCP needs in this namespace; say what is wrong and the command that fixes it.",
        discussion: """
            One line per check: ok, info, warn or fail; each warning and failure with its reason and fix. Checks \
            net.mptcp.enabled, the path manager and mptcpctld, the limits against the endpoints, every endpoint's \
            flags, address state, route (the kernel's lookup: does a subflow from it leave through its own interface?) \
            and rp_filter, the kernel's capabilities (probed in a throw-away namespace), and mptcpctld's path health (each \
            path's state; while the path of main's default route is down, where new connections start). With --peer it also opens \
            an MPTCP connection (sending two bytes, CRLF) and reports whether MPTCP was negotiated and which subflows \
            reached ESTABLISHED within --timeout, and why the others did not. Exit 0 when nothing fails, 1 otherwise.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Open an MPTCP connection to this server and watch its subflows (port 80 when none is given; "
                               + "a link-local address with its interface: fe80::2%eth0, [fe80::2%eth0]:443).",
                               valueName: "ADDRESS[:PORT]"), transform: Self.peerTarget)
    var peer: PeerTarget?

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds to wait for the connection, then for its subflows (default 5).",
                                                        valueName: "S"), transform: Self.seconds)
    var timeout: Double = 5

    /// 0.1 to 600 seconds.
    static func seconds(_ text: String) throws -> Double {
        guard let value = Double(text), value.isFinite, value >= 0.1, value <= 600 else {
            throw ArgumentFormatError("expected seconds, a number from 0.1 to 600")
        }
        return value
    }

    /// `--peer`: unicast; a link-local IPv6 address only with its zone.
    static func peerTarget(_ text: String) throws -> PeerTarget {
        let target: PeerTarget
        do { target = try PeerTarget(parsing: text) } catch { throw ArgumentFormatError(error.description) }
        if let problem = unicastProblem(target.endpoint.address) {
            throw ArgumentFormatError("\(target.endpoint.address) is \(problem) (expected a unicast address)")
        }
        return target
    }

    func run() throws {
        let namespace = try global.namespace()
        let plane = DoctorDaemon.ask(global)
        let target = peer.map { p in p.endpoint.port == 0 ? AddressAndPort(address: p.endpoint.address, port: 80) : p.endpoint }
        let destinations = DiagnosisDestinations(peer: target)
        let facts = try DiagnosisFacts.gather(namespace: namespace, plane: plane, destinations: destinations)
        let zone: Int32?
        do { zone = try peer?.interfaceIndex(in: facts.network) } catch {
            throw ValidationError(error.description)
        }
        let probe = target.map { peer in
            PeerProbe.run(peer: peer, interface: zone, timeout: timeout,
                          expectedSources: Diagnosis.expectedSources(facts, peer: peer, interface: zone), namespace: namespace)
        }
        let checks = Diagnosis.checks(facts, plane: plane, peer: probe, fix: FixCommands(namespace: global.netns))
        if global.json {
            try Output.json(DoctorJSON(checks))
        } else {
            DoctorOutput.print(checks)
        }
        if checks.worst == .fail { throw ExitCode(MPTCPCtl.Status.failure) }
    }
}
