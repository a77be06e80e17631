import ArgumentParser
import MPTCPKit

struct LimitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limits",
        abstract: "Show and set the in-kernel path manager's per-connection limits.",
        subcommands: [Show.self, SetLimits.self],
        defaultSubcommand: Show.self
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show the limits.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let limits = try PathManager(namespace: try global.namespace()).limits()
            if global.json {
                try Output.json(LimitsJSON(subflows: limits.subflows, add_addr_accepted: limits.addAddrAccepted))
            } else {
                Output.table(["LIMIT", "VALUE"], [["subflows", String(limits.subflows)],
                                                  ["add_addr_accepted", String(limits.addAddrAccepted)]])
            }
        }
    }

    struct SetLimits: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set", abstract: "Set the limits (each 0-8).")
        @OptionGroup var global: GlobalOptions
        @Option(parsing: .unconditional, help: "Extra subflows per connection.", transform: Self.limit) var subflows: UInt32?
        @Option(name: .customLong("add-addr-accepted"), parsing: .unconditional,
                help: "ADD_ADDR announcements accepted per connection.", transform: Self.limit)
        var addAddrAccepted: UInt32?

        /// Any 32-bit value is sent: the kernel owns the maximum and explains a refusal in its words.
        static func limit(_ text: String) throws -> UInt32 {
            try NumberArgument.parse(text, in: 0...UInt32.max, "a per-connection limit (the kernel allows 0-\(Limits.maximum))")
        }

        func validate() throws {
            guard subflows != nil || addAddrAccepted != nil else {
                throw ValidationError("say what to set: --subflows N and/or --add-addr-accepted N")
            }
        }

        func run() throws {
            // The kernel checks the range (0-8) and explains a refusal; we keep its words.
            try PathManager(namespace: try global.namespace()).setLimits(subflows: subflows, addAddrAccepted: addAddrAccepted)
        }
    }
}

struct SelectionJSON: Encodable {
    var current: String
    var available: [String]
}

struct PathManagerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "path-manager",
        abstract: "Show or select the path manager for new connections (net.mptcp.path_manager).",
        subcommands: [Show.self, Select.self],
        defaultSubcommand: Show.self
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show the selected and the available path managers.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let sysctl = MPTCPSysctl(namespace: try global.namespace())
            try printSelection(current: try sysctl.pathManager(), available: try sysctl.availablePathManagers(), json: global.json)
        }
    }

    struct Select: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set", abstract: "Select the path manager: kernel or userspace.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("A path manager the kernel offers.", valueName: "NAME"), completion: Completion.pathManagers)
        var name: String

        func run() throws {
            try MPTCPSysctl(namespace: try global.namespace()).setPathManager(name)
        }
    }
}

struct SchedulerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Show or select the packet scheduler for new connections (net.mptcp.scheduler).",
        subcommands: [Show.self, Select.self],
        defaultSubcommand: Show.self
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show the selected and the available schedulers.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let sysctl = MPTCPSysctl(namespace: try global.namespace())
            try printSelection(current: try sysctl.scheduler(), available: try sysctl.availableSchedulers(), json: global.json)
        }
    }

    struct Select: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set", abstract: "Select a scheduler the kernel offers.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("A scheduler listed by 'scheduler show'.", valueName: "NAME"), completion: Completion.schedulers)
        var name: String

        func run() throws {
            try MPTCPSysctl(namespace: try global.namespace()).setScheduler(name)
        }
    }
}

func printSelection(current: String, available: [String], json: Bool) throws {
    if json {
        try Output.json(SelectionJSON(current: current, available: available))
    } else {
        Output.line("\(current) (available: \(available.joined(separator: " ")))")
    }
}
