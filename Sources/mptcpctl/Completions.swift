import ArgumentParser
import MPTCPKit
#if canImport(Glibc)
import Glibc
#endif

/// Value completions for the bash, zsh and fish scripts (`--generate-completion-script`).
/// The `.custom` ones run in this program when the shell asks (`mptcpctl ---completion …`)
/// and read the namespace given with `-n` on the line being completed; a failure
/// completes nothing rather than printing an error into the user's prompt.
enum Completion {
    /// `-n`: the named network namespaces, as `ip netns` lists them.
    static let namespaces = CompletionKind.custom { _, _, _ in directoryEntries("/run/netns") }

    /// `--dev`: the interfaces of the namespace named with `-n`, else of this one
    /// (never this one's in place of the named one's).
    static let interfaces = CompletionKind.custom { words, _, _ in
        let names = (try? InterfaceTable.read(namespace: namespace(in: words)).names.values.sorted()) ?? []
        return names.isEmpty && namespaceName(in: words) == nil ? directoryEntries("/sys/class/net") : names
    }

    /// `path-manager set`: net.mptcp.available_path_managers, or the two every MPTCP kernel has.
    static let pathManagers = CompletionKind.custom { words, _, _ in
        let available = (try? MPTCPSysctl(namespace: namespace(in: words)).availablePathManagers()) ?? []
        return available.isEmpty ? ["kernel", "userspace"] : available
    }

    /// `scheduler set`: net.mptcp.available_schedulers, or the built-in one.
    static let schedulers = CompletionKind.custom { words, _, _ in
        let available = (try? MPTCPSysctl(namespace: namespace(in: words)).availableSchedulers()) ?? []
        return available.isEmpty ? ["default"] : available
    }

    /// An endpoint argument: the ids and addresses `endpoint show` lists.
    static let endpoints = CompletionKind.custom { words, _, _ in
        guard let list = try? PathManager(namespace: namespace(in: words)).endpoints() else { return [] }
        return list.map { String($0.id) } + Set(list.map(\.address.description)).sorted()
    }

    /// `--token`: the tokens of the MPTCP connections `connections` lists.
    static let tokens = CompletionKind.custom { words, _, _ in
        ((try? ConnectionTable.read(namespace: namespace(in: words))) ?? []).map { formatToken($0.token) }
    }

    /// The namespace named with `-n NAME`, `-nNAME`, `--netns NAME` or `--netns=NAME` on the line.
    static func namespaceName(in words: [String]) -> String? {
        var name: String?
        let words = Invocation.splittingShortOptions(words)
        for (i, word) in words.enumerated() {
            if (word == "-n" || word == "--netns"), i + 1 < words.count {
                name = words[i + 1]
            } else if word.hasPrefix("--netns=") {
                name = String(word.dropFirst("--netns=".count))
            }
        }
        return name
    }

    /// The namespace of `namespaceName(in:)`, else this one.
    static func namespace(in words: [String]) -> NetworkNamespace {
        namespaceName(in: words).flatMap { try? NetworkNamespace(named: $0) } ?? .current
    }

    /// A generated completion script with the command words offered after `help`
    /// (argument-parser's `help` declares its topics without values). Scripts of
    /// another form pass unchanged.
    static func offeringHelpTopics(_ script: String) -> String {
        let topics = Invocation.words(of: MPTCPCtl.self).joined(separator: " ")
        var script = script
        // bash: the help function offers only its flags.
        script = script.replacing("""
            _mptcpctl_help() {
                repeating_flags=()
                non_repeating_flags=(--version)
                repeating_options=()
                non_repeating_options=()
                __mptcpctl_offer_flags_options -1
            }
            """, with: """
            _mptcpctl_help() {
                COMPREPLY+=($(compgen -W '\(topics)' -- "${cur}"))
            }
            """)
        // zsh: the topics argument, with its values.
        script = script.replacing("'*:subcommands:'", with: "'*:subcommands:(\(topics))'")
        // fish: one more rule.
        if script.contains("complete -c 'mptcpctl'") {
            script += "complete -c 'mptcpctl' -n '__fish_seen_subcommand_from help' -fa '\(topics)'\n"
        }
        return script
    }

    /// The names in a directory, sorted; none when it cannot be read.
    static func directoryEntries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
