import ArgumentParser
import MPTCPKit
#if canImport(Glibc)
import Glibc
#endif

/// `mptcpctl listen ADDRESS PORT`: holds an MPTCP listener so that joins to an
/// announced address are accepted (the userspace path manager opens none), as
/// `pm_nl_ctl listen` does in the kernel's selftests.
struct ListenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Hold an MPTCP listening socket on ADDRESS PORT until interrupted, so peers can join an announced address.",
        discussion: """
            Prints one line (a JSON object with --json) once the socket listens, then waits for SIGINT or \
            SIGTERM and closes it. Joins reach their connection through the kernel; a plain connection \
            that arrives is closed at once (the socket is there for joins only).
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The local address (0.0.0.0 or :: for every address of the family).", valueName: "ADDRESS"),
              transform: AddressArgument.parseListening)
    var address: AddressArgument

    @Argument(help: ArgumentHelp("The port, 1-65535.", valueName: "PORT"), transform: NumberArgument.port)
    var port: UInt16

    func run() throws {
        // Blocked before the socket exists, so an interrupt sent as soon as the
        // line is read is never lost; it is taken with sigtimedwait below.
        var stop = sigset_t()
        sigemptyset(&stop)
        sigaddset(&stop, SIGINT)
        sigaddset(&stop, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &stop, nil)
        let listener = try MPTCPListener(address: address.value, port: port, namespace: try global.namespace())
        let shown = AddressAndPort(address: listener.address, port: listener.port)
        if global.json {
            try Output.json(ListeningJSON(listening: true, address: listener.address.description, port: listener.port))
        } else {
            Output.line("listening on \(shown) (MPTCP); interrupt to close")
        }
        var tick = timespec(tv_sec: 1, tv_nsec: 0)
        while sigtimedwait(&stop, nil, &tick) < 0 {
            listener.refuseQueuedConnections()
        }
        listener.close()
    }
}

/// `listen --json`: the socket is listening.
struct ListeningJSON: Encodable {
    var listening: Bool
    var address: String
    var port: UInt16
}
