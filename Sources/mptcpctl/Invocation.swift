import ArgumentParser

/// The command line as the user typed it, prepared for argument-parser: global
/// options moved behind the command words, `--opt -1` joined, the command words
/// checked against the command tree, and the output mode (`--json`, `--quiet`)
/// that errors and notes follow even when parsing fails.
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
        let options = typed.prefix { $0 != "--" }
        json = options.contains { $0 == "--json" || Self.isShortCluster($0, containing: "j") }
        quiet = options.contains { $0 == "--quiet" || Self.isShortCluster($0, containing: "q") }
        let hoisted = Self.hoistingGlobalOptions(typed)
        arguments = Self.joiningNegativeNumbers(hoisted.arguments)
        commandPath = []
        problem = nil
        // argument-parser's own entry points (completion scripts and their callbacks) pass through.
        if typed.first.map({ $0.hasPrefix("---") || $0 == "--generate-completion-script" }) == true { return }
        if hoisted.hadGlobalOptions && hoisted.commandless {
            problem = UsageError("a command is missing after the global options; commands: "
                                 + Self.words(of: root).joined(separator: ", "), code: .unknownCommand)
            return
        }
        checkCommandWords(root: root)
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

    /// `-j`, `-q`, `-jq`: a word made only of the global short flags.
    private static func isShortCluster(_ word: String, containing flag: Character) -> Bool {
        word.count >= 2 && word.first == "-" && word.dropFirst().first != "-"
            && word.dropFirst().allSatisfy { $0 == "j" || $0 == "q" } && word.dropFirst().contains(flag)
    }

    /// The subcommand names of a command, in the order its help lists them.
    static func words(of command: ParsableCommand.Type) -> [String] {
        command.configuration.subcommands.compactMap { $0.configuration.commandName }
    }

    /// Walks the leading words down the command tree; the first word that names no
    /// command of its group is an unknown command (not an "unknown option" or an
    /// "unexpected argument", which is what argument-parser would say).
    private mutating func checkCommandWords(root: ParsableCommand.Type) {
        var group = root
        for word in arguments {
            if word == "--" || word.hasPrefix("-") { return }
            let subcommands = group.configuration.subcommands
            if subcommands.isEmpty { return }
            if let next = subcommands.first(where: { $0.configuration.commandName == word }) {
                group = next
                commandPath.append(word)
                continue
            }
            // `mptcpctl help COMMAND...` is argument-parser's.
            if commandPath.isEmpty && word == "help" { return }
            let valid = Self.words(of: group) + (commandPath.isEmpty ? ["help"] : [])
            let typed = (commandPath + [word]).joined(separator: " ")
            var message = "unknown command '\(typed)'"
            if let near = Self.nearest(to: word, among: valid) {
                message += "; did you mean '\((commandPath + [near]).joined(separator: " "))'?"
            } else {
                message += "; \(commandPath.isEmpty ? "commands" : "'\(commandPath.joined(separator: " "))' takes"): "
                    + valid.joined(separator: ", ")
            }
            problem = UsageError(message, code: .unknownCommand)
            return
        }
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

    /// `ip -n NS mptcp ...` habits: global options may come before the command.
    /// argument-parser only accepts a subcommand's options after its name, so
    /// leading global options are moved behind the command words (before any `--`).
    static func hoistingGlobalOptions(_ arguments: [String]) -> (arguments: [String], hadGlobalOptions: Bool, commandless: Bool) {
        var leading: [String] = []
        var rest = arguments[...]
        while let first = rest.first {
            if first == "-j" || first == "--json" || first == "-q" || first == "--quiet"
                || isShortCluster(first, containing: "j") || isShortCluster(first, containing: "q") {
                leading.append(first)
                rest = rest.dropFirst()
            } else if first == "-n" || first == "--netns" || first == "--socket" {
                leading += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else if first.hasPrefix("--netns=") || first.hasPrefix("--socket=") || (first.hasPrefix("-n") && first.count > 2 && !first.hasPrefix("--")) {
                leading.append(first)
                rest = rest.dropFirst()
            } else {
                break
            }
        }
        guard !leading.isEmpty, !rest.isEmpty else { return (arguments, !leading.isEmpty, rest.isEmpty) }
        var result = Array(rest)
        let end = result.firstIndex(of: "--") ?? result.endIndex
        result.insert(contentsOf: leading, at: end)
        return (result, true, false)
    }

    /// `--id -1` as `--id=-1`: argument-parser takes a word starting with `-` for an
    /// option and says "Missing value"; joined, the value reaches the range check,
    /// which names it. No option of this tool is a dash followed by a digit.
    static func joiningNegativeNumbers(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let word = arguments[index]
            if word == "--" { result += arguments[index...]; break }
            let next = index + 1 < arguments.endIndex ? arguments[index + 1] : nil
            if word.hasPrefix("--"), word.count > 2, !word.contains("="), let next,
               next.count > 1, next.first == "-", next.dropFirst().first?.isNumber == true {
                result.append(word + "=" + next)
                index += 2
                continue
            }
            result.append(word)
            index += 1
        }
        return result
    }
}
