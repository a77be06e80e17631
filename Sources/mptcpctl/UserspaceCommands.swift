import ArgumentParser
import MPTCPAPI
import MPTCPKit

/// Options naming a userspace-PM connection.
struct TokenOption: ParsableArguments {
    @Option(help: ArgumentHelp("The connection's token (8 hex digits as 'monitor' prints it, or 0x-prefixed).", valueName: "TOKEN"),
            completion: Completion.tokens, transform: TokenArgument.parse)
    var token: TokenArgument
}

struct SubflowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subflow",
        abstract: "Create, destroy or flip subflows of a userspace-PM connection.",
        subcommands: [Create.self, Destroy.self, SetBackup.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Open a subflow (MP_JOIN) from a local address to a peer address.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var connection: TokenOption
        @Option(help: "The local address.", transform: AddressArgument.parse) var local: AddressArgument
        @Option(name: .customLong("local-id"), parsing: .unconditional,
                help: "The address id on this connection, 1-255 (default: the id the connection already uses for the address, else the lowest free one).",
                transform: NumberArgument.id)
        var localID: UInt8?
        @Option(help: ArgumentHelp("Bind the subflow to an interface.", valueName: "IFACE"), completion: Completion.interfaces) var dev: String?
        @Option(help: ArgumentHelp("The peer's address and port.", valueName: "ADDR:PORT"), transform: AddressPortArgument.parse) var remote: AddressPortArgument
        @Flag(help: "Open the subflow as backup.") var backup = false

        func validate() throws {
            guard remote.value.port != 0 else { throw ValidationError("--remote needs a port: ADDR:PORT or [IPv6]:PORT") }
            guard local.value.family == remote.value.address.family else {
                throw ValidationError("--local and --remote must both be IPv4 or both IPv6")
            }
        }

        func run() throws {
            let token = connection.token.value
            let givenID = localID
            try DaemonConnection.route(global, ControlMethods.SubflowCreate.self, {
                SubflowCreateParams(token: token, local: local.value, localID: givenID, interface: dev, remote: remote.value,
                                    backup: backup)
            }) {
                let ns = try global.namespace()
                let pm = try PathManager(namespace: ns)
                let id = try givenID ?? pm.localID(token: token, for: local.value)
                let endpoint = Endpoint(id: id, address: local.value, flags: backup ? .backup : [],
                                        interfaceIndex: try rephrasing("create subflow from \(local.value)") {
                                            try interfaceIndex(dev, namespace: ns)
                                        })
                try pm.createSubflow(token: token, local: endpoint, remote: remote.value)
            }
        }
    }

    struct Destroy: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "destroy", abstract: "Close the subflow with this exact 4-tuple.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var connection: TokenOption
        @Option(help: ArgumentHelp("Local address and port.", valueName: "ADDR:PORT"), transform: AddressPortArgument.parse) var local: AddressPortArgument
        @Option(help: ArgumentHelp("Remote address and port.", valueName: "ADDR:PORT"), transform: AddressPortArgument.parse) var remote: AddressPortArgument

        func validate() throws {
            guard local.value.port != 0, remote.value.port != 0 else {
                throw ValidationError("--local and --remote both need a port (see 'mptcpctl connections')")
            }
        }

        func run() throws {
            try DaemonConnection.route(global, ControlMethods.SubflowDestroy.self, {
                SubflowDestroyParams(token: connection.token.value, local: local.value, remote: remote.value)
            }) {
                try PathManager(namespace: try global.namespace())
                    .destroySubflow(token: connection.token.value, local: local.value, remote: remote.value)
            }
        }
    }

    struct SetBackup: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set", abstract: "Mark a subflow backup or not (sends MP_PRIO).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var connection: TokenOption
        @Option(help: ArgumentHelp("Local address, with the port to pick one subflow.", valueName: "ADDR[:PORT]"), transform: AddressPortArgument.parse) var local: AddressPortArgument
        @Option(help: ArgumentHelp("Remote address, optionally with port.", valueName: "ADDR[:PORT]"), transform: AddressPortArgument.parse) var remote: AddressPortArgument
        @Flag(inversion: .prefixedNo, exclusivity: .exclusive, help: "Backup or not.") var backup: Bool

        func run() throws {
            // A port left out may match several subflows; the kernel would flip one of them silently.
            let (local, remote) = try resolveSubflow(token: connection.token.value, local: local.value, remote: remote.value,
                                                     namespace: try global.namespace())
            try DaemonConnection.route(global, ControlMethods.SubflowSetBackup.self, {
                SubflowSetBackupParams(token: connection.token.value, local: local, remote: remote, backup: backup)
            }) {
                try PathManager(namespace: try global.namespace())
                    .setSubflowBackup(token: connection.token.value, local: local, remote: remote, backup: backup)
            }
        }
    }
}

struct AnnounceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "announce",
        abstract: "Announce a local address to the peer of a userspace-PM connection (ADD_ADDR)."
    )
    @OptionGroup var global: GlobalOptions
    @OptionGroup var connection: TokenOption
    @Option(help: "The address to announce.", transform: AddressArgument.parse) var address: AddressArgument
    @Option(parsing: .unconditional, help: "Its id on this connection, 1-255.", transform: NumberArgument.id) var id: UInt8
    @Option(parsing: .unconditional, help: "The port peers should join, 1-65535 (default: the connection's).", transform: NumberArgument.port)
    var port: UInt16?
    @Option(help: ArgumentHelp("The interface the address is on, stored by the kernel with the announcement.", valueName: "IFACE"),
            completion: Completion.interfaces)
    var dev: String?

    func run() throws {
        let endpoint = Endpoint(id: id, address: address.value, port: port ?? 0, flags: .signal)
        try DaemonConnection.route(global, ControlMethods.Announce.self, {
            AnnounceParams(token: connection.token.value, address: address.value, id: endpoint.id, port: endpoint.port,
                           interface: dev)
        }) {
            let ns = try global.namespace()
            var announced = endpoint
            announced.interfaceIndex = try interfaceIndex(dev, namespace: ns)
            try PathManager(namespace: ns).announce(token: connection.token.value, address: announced)
        }
    }
}

struct RemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Withdraw an address id from a userspace-PM connection (RM_ADDR) and close its subflows."
    )
    @OptionGroup var global: GlobalOptions
    @OptionGroup var connection: TokenOption
    @Option(parsing: .unconditional, help: "The local address id, 0-255 (0 is the initial address).", transform: NumberArgument.addressID)
    var id: UInt8

    func run() throws {
        let localID = id
        try DaemonConnection.route(global, ControlMethods.Remove.self, {
            RemoveParams(token: connection.token.value, id: localID)
        }) {
            try PathManager(namespace: try global.namespace()).remove(token: connection.token.value, localID: localID)
        }
    }
}
