import ArgumentParser

/// The command line as the user typed it, prepared for argument-parser: joined short
/// options split (`-nNS`, `-jn NS`), global options moved behind the command words
/// (or dropped before `help`), negative numbers kept as values (`--opt -1`,
/// `delete -1`), the command words checked against the command tree, and the output
/// mode (`--json`, `--quiet`) that errors and notes follow even when parsing fails.
struct Invocation: Sendable {
    /// What argument-parser gets.
    var arguments: [String]
    /// The command words found, e.g. `["endpoint", "set"]`; errors about the
    /// command line name them.
    var commandPath: [String]
    /// `-j/--json` anywhere before `--`: errors become JSON objects.
    var json: Bool
    /// `-q/--quiet` anywhere before `--`: notes are not printed.
    var quiet: Bool
    /// Why the command words are wrong (an unknown or missing command), when they are.
    var problem: UsageError?

    /// This process's command line.
    static let current = Invocation(Array(CommandLine.arguments.dropFirst()), root: MPTCPCtl.self)

    init(_ typed: [String], root: ParsableCommand.Type) {
        // argument-parser's own entry points (completion scripts and their callbacks) pass through.
        if typed.first.map({ $0.hasPrefix("---") || $0 == "--generate-completion-script" }) == true {
            arguments = typed
            commandPath = []
            json = false
            quiet = false
            problem = nil
            return
        }
        let words = Self.splittingShortOptions(typed)
        let options = words.prefix { $0 != "--" }
        json = options.contains { $0 == "--json" || $0 == "-j" }
        quiet = options.contains { $0 == "--quiet" || $0 == "-q" }
        let hoisted = Self.hoistingGlobalOptions(words)
        commandPath = []
        problem = nil
        if hoisted.hadGlobalOptions && hoisted.commandless {
            arguments = words
            problem = UsageError("a command is missing after the global options; commands: "
                                 + Self.words(of: root).joined(separator: ", "), code: .unknownCommand)
            return
        }
        // `help [COMMAND...]` is argument-parser's, which takes no options: the global
        // ones typed before it (`-n NS help`) are dropped, the command words checked.
        if hoisted.helpWords != nil || words.first == "help" {
            let topics = hoisted.helpWords ?? Array(words.dropFirst())
            arguments = []  // self is whole before the mutating check below
            arguments = ["help"] + checkCommandWords(topics, root: root, help: true)
            return
        }
        arguments = Self.arrangingNegativeNumbers(hoisted.arguments)
        _ = checkCommandWords(arguments, root: root, help: false)
        if problem == nil { problem = Self.contradiction(in: arguments) }
    }

    /// `--backup --no-backup`: a flag and its negation together are refused, whatever the
    /// command, rather than letting the last one win. (The flags are also declared
    /// `.exclusive`; this check comes first and says it in the user's terms.)
    static func contradiction(in arguments: [String]) -> UsageError? {
        let words = arguments.prefix { $0 != "--" }
        for negated in words where negated.hasPrefix("--no-") && negated.count > 5 {
            let positive = "--" + negated.dropFirst(5)
            if words.contains(positive) {
                return UsageError("\(positive) and \(negated) contradict each other: give one of them")
            }
        }
        return nil
    }

    /// The subcommand names of a command, in the order its help lists them.
    static func words(of command: ParsableCommand.Type) -> [String] {
        command.configuration.subcommands.compactMap { $0.configuration.commandName }
    }

    /// Walks the leading words down the command tree; the first word that names no
    /// command of its group is an unknown command (not an "unknown option" or an
    /// "unexpected argument", which is what argument-parser would say). A word that
    /// looks like a value (`endpoint 3`, `endpoint 10.0.0.1`) is an argument of the
    /// group's default subcommand. Returns the command words found.
    @discardableResult
    private mutating func checkCommandWords(_ words: [String], root: ParsableCommand.Type, help: Bool) -> [String] {
        var group = root
        for word in words {
            if word == "--" || word.hasPrefix("-") { break }
            let subcommands = group.configuration.subcommands
            if subcommands.isEmpty { break }
            if let next = subcommands.first(where: { $0.configuration.commandName == word }) {
                group = next
                commandPath.append(word)
                continue
            }
            // `mptcpctl help COMMAND...` is argument-parser's.
            if commandPath.isEmpty && word == "help" && !help { break }
            if group.configuration.defaultSubcommand != nil && !help && Self.looksLikeValue(word) { break }
            let valid = Self.words(of: group) + (commandPath.isEmpty && !help ? ["help"] : [])
            let typed = (commandPath + [word]).joined(separator: " ")
            var message = "unknown command '\(typed)'"
            if let near = Self.nearest(to: word, among: valid) {
                message += "; did you mean '\((commandPath + [near]).joined(separator: " "))'?"
            } else {
                message += "; \(commandPath.isEmpty ? "commands" : "'\(commandPath.joined(separator: " "))' takes"): "
                    + valid.joined(separator: ", ")
            }
            problem = UsageError(message, code: .unknownCommand)
            break
        }
        return commandPath
    }

    /// An id, an address or `ADDR:PORT`: what a command takes as its argument, never a command name.
    static func looksLikeValue(_ word: String) -> Bool {
        word.first?.isNumber == true || word.first == "[" || word.contains(".") || word.contains(":")
    }

    /// The valid word closest to `word` by edit distance, when close enough to be a slip
    /// (at most 2 edits, or a third of the word), or that `word` abbreviates.
    static func nearest(to word: String, among valid: [String]) -> String? {
        let scored = valid.map { ($0, editDistance(word, $0)) }
        if let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, word.count / 3) { return best.0 }
        if word.count >= 2, let prefixed = valid.first(where: { $0.hasPrefix(word) }) { return prefixed }
        return nil
    }

    /// Levenshtein distance (insertions, deletions, substitutions), on characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    /// `-nNS` as `-n NS`, `-jq` as `-j -q`, `-jnNS` as `-j -n NS`: argument-parser takes
    /// neither a value attached to a short option nor a cluster ending in one. The global
    /// short options (-n, -j, -q) are the only short options of this tool; a word after
    /// `--` or after an option taking a value is left as it is.
    static func splittingShortOptions(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let word = arguments[index]
            index += 1
            if word == "--" { result += arguments[(index - 1)...]; break }
            if globalValueOptions.contains(word) {
                result.append(word)
                if index < arguments.endIndex { result.append(arguments[index]); index += 1 }
                continue
            }
            guard word.count > 2, word.first == "-", word.dropFirst().first != "-" else { result.append(word); continue }
            let letters = word.dropFirst()
            let flags = letters.prefix { $0 == "j" || $0 == "q" }
            let rest = letters.dropFirst(flags.count)
            guard rest.isEmpty || rest.first == "n" else { result.append(word); continue }
            result += flags.map { "-\($0)" }
            if !rest.isEmpty {
                result.append("-n")
                if rest.count > 1 { result.append(String(rest.dropFirst())) }
                else if index < arguments.endIndex { result.append(arguments[index]); index += 1 }
            }
        }
        return result
    }

    /// The global options that take a value.
    static let globalValueOptions: Set<String> = ["-n", "--netns", "--socket"]

    /// The flags of this tool (options taking no value): a negative number after one is an argument.
    static let flags: Set<String> = [
        "-j", "--json", "-q", "--quiet", "-h", "--help", "--version", "--signal", "--subflow", "--backup", "--no-backup",
        "--fullmesh", "--no-fullmesh", "--laminar", "--kernel", "--once",
    ]

    /// `ip -n NS mptcp ...` habits: global options may come before the command.
    /// argument-parser only accepts a subcommand's options after its name, so
    /// leading global options are moved behind the command words (before any `--`).
    /// `helpWords`: the words after `help` when the command is `help`, which takes no options.
    static func hoistingGlobalOptions(_ arguments: [String])
        -> (arguments: [String], hadGlobalOptions: Bool, commandless: Bool, helpWords: [String]?) {
        var leading: [String] = []
        var rest = arguments[...]
        while let first = rest.first {
            if first == "-j" || first == "--json" || first == "-q" || first == "--quiet" {
                leading.append(first)
                rest = rest.dropFirst()
            } else if globalValueOptions.contains(first) {
                leading += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else if first.hasPrefix("--netns=") || first.hasPrefix("--socket=") {
                leading.append(first)
                rest = rest.dropFirst()
            } else {
                break
            }
        }
        guard !leading.isEmpty, !rest.isEmpty else { return (arguments, !leading.isEmpty, rest.isEmpty, nil) }
        if rest.first == "help" { return (Array(rest), true, false, Array(rest.dropFirst())) }
        var result = Array(rest)
        let end = result.firstIndex(of: "--") ?? result.endIndex
        result.insert(contentsOf: leading, at: end)
        return (result, true, false, nil)
    }

    /// Negative numbers reach the range checks, which name them, instead of being
    /// taken for options ("Missing value", "Missing expected argument"): after an
    /// option taking a value, `--id -1` becomes `--id=-1`; elsewhere it is an argument,
    /// moved with the arguments after it behind a `--` (`endpoint delete -1` becomes
    /// `endpoint delete -- -1`). No option of this tool is a dash followed by a digit.
    static func arrangingNegativeNumbers(_ arguments: [String]) -> [String] {
        func isNegative(_ word: String) -> Bool { word.count > 1 && word.first == "-" && word.dropFirst().first?.isNumber == true }
        func takesValue(_ word: String) -> Bool {
            word.hasPrefix("-") && !word.contains("=") && !flags.contains(word) && !isNegative(word) && word != "--"
        }
        var result: [String] = []
        var positionals: [String]?
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let word = arguments[index]
            index += 1
            if word == "--" {
                // Arguments after the user's own `--` follow the ones moved.
                positionals = (positionals ?? []) + arguments[index...]
                break
            }
            if takesValue(word), index < arguments.endIndex {
                let value = arguments[index]
                index += 1
                result.append(isNegative(value) ? word + "=" + value : word)
                if !isNegative(value) { result.append(value) }
                continue
            }
            if isNegative(word) || (positionals != nil && !word.hasPrefix("-")) {
                positionals = (positionals ?? []) + [word]
                continue
            }
            result.append(word)
        }
        if let positionals { result += ["--"] + positionals }
        return result
    }
}
