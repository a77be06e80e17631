import ArgumentParser
import MPTCPAPI
import MPTCPKit

struct EndpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "endpoint",
        abstract: "Show and change the in-kernel path manager's endpoints.",
        subcommands: [Show.self, Add.self, Delete.self, SetFlags.self, Flush.self],
        defaultSubcommand: Show.self
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "List the endpoints, or show one (by id: the kernel's GET_ADDR).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("Show only this endpoint: its id, address or ADDR:PORT.", valueName: "ID|ADDRESS"),
                  completion: Completion.endpoints, transform: EndpointSelector.parse)
        var endpoint: EndpointSelector?

        func run() throws {
            let ns = try global.namespace()
            let pm = try PathManager(namespace: ns)
            if let endpoint {
                try printEndpoint(try endpoint.resolve(pm, for: "show endpoint"), namespace: ns, json: global.json)
                return
            }
            try printEndpoints(try pm.endpoints(), namespace: ns, json: global.json)
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Add an endpoint, and print it as 'endpoint show' does (with the id the kernel chose).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The local address.", transform: AddressArgument.parse) var address: AddressArgument
        @Option(parsing: .unconditional, help: "The endpoint id, 1-255 (default: the kernel picks one).", transform: NumberArgument.id)
        var id: UInt8?
        @Option(help: ArgumentHelp("Bind subflows from this endpoint to an interface.", valueName: "IFACE"), completion: Completion.interfaces)
        var dev: String?
        @Option(parsing: .unconditional, help: "A port to listen on and announce (needs --signal, not --subflow).", transform: NumberArgument.port)
        var port: UInt16?
        @Flag(help: "Announce the address to peers (ADD_ADDR).") var signal = false
        @Flag(help: "Open a subflow from this address.") var subflow = false
        @Flag(help: "Make subflows from this address backup.") var backup = false
        @Flag(help: "Open subflows to every address the peer announced.") var fullmesh = false
        @Flag(help: "Use the endpoint for one subflow to each announced peer address (Linux 6.18).") var laminar = false
        @Option(name: .customLong("raw-flags"), help: ArgumentHelp(
            "Also set these flag bits, named by this version or not (0x followed by hex digits), to probe what a kernel supports.",
            valueName: "0xMASK"), transform: RawFlagsArgument.parse)
        var rawFlags: RawFlagsArgument?

        /// The combinations the kernel refuses, refused here first in the flags' own
        /// names (exit 64) rather than as a kernel error (exit 1). `--raw-flags` is
        /// sent as given: it is there to probe what a kernel accepts.
        func validate() throws {
            if port != nil && !signal { throw ValidationError("--port needs --signal: only an announced endpoint listens on a port") }
            if port != nil && subflow { throw ValidationError("--port and --subflow exclude each other: a port is for --signal only") }
            if signal && fullmesh { throw ValidationError("--signal and --fullmesh exclude each other: fullmesh goes with --subflow") }
        }

        func run() throws {
            let ns = try global.namespace()
            var flags = rawFlags?.value ?? []
            if signal { flags.insert(.signal) }
            if subflow { flags.insert(.subflow) }
            if backup { flags.insert(.backup) }
            if fullmesh { flags.insert(.fullmesh) }
            if laminar { flags.insert(.laminar) }
            let endpoint = Endpoint(id: id ?? 0, address: address.value, port: port ?? 0, flags: flags,
                                    interfaceIndex: try rephrasing("add endpoint \(address.value)") { try interfaceIndex(dev, namespace: ns) })
            let pm = try PathManager(namespace: ns)
            do {
                try pm.addEndpoint(endpoint)
            } catch {
                // `addEndpoint` throws only MPTCPError (typed throws).
                var error = error
                switch error.errno {
                case 17?: error.hint = "an endpoint with this address exists already"
                case 16?: error.hint = "id \(endpoint.id) is used by another endpoint"
                case 34?: error.hint = "a namespace holds at most 8 endpoints"
                default: break
                }
                throw error
            }
            // The kernel does not say which id it chose; address and port name the endpoint (it refuses duplicates).
            let added = try rephrasing("add endpoint \(address.value)") { () throws -> Endpoint? in
                if endpoint.id != 0 { return try pm.endpoint(id: endpoint.id) }
                return try pm.endpoints().first { $0.address == endpoint.address && $0.port == endpoint.port }
            }
            guard let added else {
                throw CommandFailure("add endpoint \(address.value): added, but it was gone when read back (another program deleted it)")
            }
            try printEndpoint(added, namespace: ns, json: global.json)
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete", abstract: "Delete an endpoint by id, address, or ADDR:PORT when several share an address.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("The endpoint's id, address or ADDR:PORT.", valueName: "ID|ADDRESS"),
                  completion: Completion.endpoints, transform: EndpointSelector.parse)
        var endpoint: EndpointSelector

        func run() throws {
            let pm = try PathManager(namespace: try global.namespace())
            let chosen = try endpoint.resolve(pm, for: "delete endpoint")
            try rephrasing("delete endpoint \(endpoint)") { try pm.deleteEndpoint(id: chosen.id) }
        }
    }

    struct SetFlags: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set", abstract: "Change an endpoint's backup and fullmesh flags.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("The endpoint's id, address or ADDR:PORT.", valueName: "ID|ADDRESS"),
                  completion: Completion.endpoints, transform: EndpointSelector.parse)
        var endpoint: EndpointSelector
        // `.exclusive`: `--backup --no-backup` is a contradiction, refused, not "the last one wins".
        @Flag(inversion: .prefixedNo, exclusivity: .exclusive, help: "Make the endpoint's subflows backup, or not.") var backup: Bool?
        @Flag(inversion: .prefixedNo, exclusivity: .exclusive, help: "Turn fullmesh on or off.") var fullmesh: Bool?
        @Option(name: .customLong("raw-flags"), help: ArgumentHelp(
            "Also send these flag bits, named by this version or not (0x followed by hex digits).", valueName: "0xMASK"),
                transform: RawFlagsArgument.parse)
        var rawFlags: RawFlagsArgument?

        func validate() throws {
            guard backup != nil || fullmesh != nil || rawFlags != nil else {
                throw ValidationError("say what to change: --backup, --no-backup, --fullmesh, --no-fullmesh or --raw-flags")
            }
            let raw = rawFlags?.value ?? []
            for (name, flag, wanted) in [("backup", EndpointFlags.backup, backup), ("fullmesh", .fullmesh, fullmesh)]
            where wanted == false && raw.contains(flag) {
                throw ValidationError("--raw-flags 0x\(String(raw.rawValue, radix: 16)) sets the \(name) bit that --no-\(name) clears")
            }
        }

        func run() throws {
            let pm = try PathManager(namespace: try global.namespace())
            let current = try endpoint.resolve(pm, for: "set endpoint")
            // SET_FLAGS replaces both the backup and the fullmesh bit: keep the one not asked about.
            var flags = current.flags.intersection([.backup, .fullmesh])
            if let backup { if backup { flags.insert(.backup) } else { flags.remove(.backup) } }
            if let fullmesh { if fullmesh { flags.insert(.fullmesh) } else { flags.remove(.fullmesh) } }
            flags.formUnion(rawFlags?.value ?? [])
            try rephrasing("set endpoint \(endpoint)") { try pm.setEndpointFlags(id: current.id, flags: flags) }
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

/// The `endpoint show` list: a table, or a JSON array of endpoint objects.
func printEndpoints(_ endpoints: [Endpoint], namespace: NetworkNamespace, json: Bool) throws {
    let interfaces = endpoints.contains { $0.interfaceIndex != 0 } ? try InterfaceTable.read(namespace: namespace) : nil
    if json {
        Output.line(RPCWire.text(endpoints.map { EndpointRecord($0) { interfaces?.names[$0] } }.json))
        return
    }
    Output.table(["ID", "ADDRESS", "PORT", "FLAGS", "INTERFACE"], endpoints.map { e in
        [String(e.id), e.address.description, e.port == 0 ? "-" : String(e.port),
         e.flags.isEmpty ? "-" : e.flags.names.joined(separator: ","),
         e.interfaceIndex == 0 ? "-" : interfaceLabel(e.interfaceIndex) { interfaces?.names[$0] }]
    })
}

/// One endpoint (`endpoint show ID`, `endpoint add`): the same table with one row, or
/// one JSON endpoint object (the schema of the list's elements).
func printEndpoint(_ endpoint: Endpoint, namespace: NetworkNamespace, json: Bool) throws {
    if json {
        let interfaces = endpoint.interfaceIndex != 0 ? try InterfaceTable.read(namespace: namespace) : nil
        Output.line(RPCWire.text(EndpointRecord(endpoint) { interfaces?.names[$0] }.json))
    } else {
        try printEndpoints([endpoint], namespace: namespace, json: false)
    }
}
