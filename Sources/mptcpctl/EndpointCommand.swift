import ArgumentParser
import MPTCPKit

struct EndpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "endpoint",
        abstract: "Show and change the in-kernel path manager's endpoints.",
        subcommands: [Show.self, Add.self, Delete.self, SetFlags.self, Flush.self],
        defaultSubcommand: Show.self
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "List the endpoints.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let ns = try global.namespace()
            let endpoints = try PathManager(namespace: ns).endpoints()
            let interfaces = endpoints.contains { $0.interfaceIndex != 0 } ? try InterfaceTable.read(namespace: ns) : nil
            if global.json {
                try Output.json(endpoints.map { EndpointJSON($0, interfaces: interfaces) })
                return
            }
            Output.table(["ID", "ADDRESS", "PORT", "FLAGS", "INTERFACE"], endpoints.map { e in
                [String(e.id), e.address.description, e.port == 0 ? "-" : String(e.port),
                 e.flags.isEmpty ? "-" : e.flags.names.joined(separator: ","),
                 e.interfaceIndex == 0 ? "-" : interfaceName(e.interfaceIndex, interfaces)]
            })
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add an endpoint.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The local address.", transform: AddressArgument.parse) var address: AddressArgument
        @Option(help: "The endpoint id, 1-255 (default: the kernel picks one).") var id: Int?
        @Option(help: ArgumentHelp("Bind subflows from this endpoint to an interface.", valueName: "IFACE")) var dev: String?
        @Option(help: "A port to listen on and announce (needs --signal, not --subflow).") var port: Int?
        @Flag(help: "Announce the address to peers (ADD_ADDR).") var signal = false
        @Flag(help: "Open a subflow from this address.") var subflow = false
        @Flag(help: "Make subflows from this address backup.") var backup = false
        @Flag(help: "Open subflows to every address the peer announced.") var fullmesh = false
        @Flag(help: "Use the endpoint for one subflow to each announced peer address (Linux 6.18).") var laminar = false

        func run() throws {
            let ns = try global.namespace()
            var flags = EndpointFlags()
            if signal { flags.insert(.signal) }
            if subflow { flags.insert(.subflow) }
            if backup { flags.insert(.backup) }
            if fullmesh { flags.insert(.fullmesh) }
            if laminar { flags.insert(.laminar) }
            let endpoint = Endpoint(id: try checkID(id, option: "--id") ?? 0, address: address.value,
                                    port: try checkPort(port), flags: flags,
                                    interfaceIndex: try interfaceIndex(dev, namespace: ns))
            do {
                try PathManager(namespace: ns).addEndpoint(endpoint)
            } catch var error as MPTCPError {
                switch error.errno {
                case 17?: error.hint = "an endpoint with this address exists already"
                case 16?: error.hint = "id \(endpoint.id) is used by another endpoint"
                case 34?: error.hint = "a namespace holds at most 8 endpoints"
                default: break
                }
                throw error
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete an endpoint by id or address.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("The endpoint's id or address.", valueName: "ID|ADDRESS"), transform: EndpointSelector.parse) var endpoint: EndpointSelector

        func run() throws {
            let pm = try PathManager(namespace: try global.namespace())
            try pm.deleteEndpoint(id: try endpoint.resolve(pm))
        }
    }

    struct SetFlags: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set", abstract: "Change an endpoint's backup and fullmesh flags.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("The endpoint's id or address.", valueName: "ID|ADDRESS"), transform: EndpointSelector.parse) var endpoint: EndpointSelector
        @Flag(inversion: .prefixedNo, help: "Make the endpoint's subflows backup, or not.") var backup: Bool?
        @Flag(inversion: .prefixedNo, help: "Turn fullmesh on or off.") var fullmesh: Bool?

        func validate() throws {
            guard backup != nil || fullmesh != nil else {
                throw ValidationError("say what to change: --backup, --no-backup, --fullmesh or --no-fullmesh")
            }
        }

        func run() throws {
            let pm = try PathManager(namespace: try global.namespace())
            let id = try endpoint.resolve(pm)
            // SET_FLAGS replaces both the backup and the fullmesh bit: keep the one not asked about.
            var flags = try pm.endpoint(id: id).flags.intersection([.backup, .fullmesh])
            if let backup { if backup { flags.insert(.backup) } else { flags.remove(.backup) } }
            if let fullmesh { if fullmesh { flags.insert(.fullmesh) } else { flags.remove(.fullmesh) } }
            try pm.setEndpointFlags(id: id, flags: flags)
        }
    }

    struct Flush: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "flush", abstract: "Delete every endpoint.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try PathManager(namespace: try global.namespace()).flushEndpoints()
        }
    }
}
