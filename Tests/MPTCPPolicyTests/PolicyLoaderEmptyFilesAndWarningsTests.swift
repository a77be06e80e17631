import MPTCPKit
import MPTCPPolicy
import Testing

/// The empty-file rule (a file with no key is a valid policy with every
/// default, whatever its form), the system checks the loader hands to its
/// environment, and the warnings for parts of a valid file that have no effect.
@Suite struct PolicyLoaderEmptyFilesAndWarningsTests {
    static let file = "/etc/mptcpctl/mptcpctld.toml"

    @Test(arguments: [
        ("an empty file", ""),
        ("blank lines", "\n\n   \n\t\n"),
        ("CRLF blank lines", "\r\n\r\n"),
        ("comments only", "# the policy\n\n# is still to be written\n"),
        ("a comment without a final newline", "# nothing here"),
    ])
    func aFileWithNoKeyIsTheDefaultPolicy(form: String, text: String) throws {
        let checked = try PolicyLoader.check(text, file: Self.file)
        #expect(checked.policy == Policy(), "\(form)")
        #expect(checked.warnings.isEmpty, "\(form)")
        #expect(try PolicyLoader.check(bytes: Array(text.utf8), file: Self.file).policy == Policy(), "\(form)")
    }

    @Test func noBytesAtAllAsFromDevNullIsTheDefaultPolicy() throws {
        #expect(try PolicyLoader.check(bytes: [], file: "/dev/null").policy == Policy())
    }

    @Test func bytesThatAreNotUTF8AreRefusedWithTheirLine() {
        let bytes = Array("# ok\n[daemon]\n".utf8) + [0xC3, 0x28] + Array("\n".utf8)
        let error = #expect(throws: PolicyError.self) { try PolicyLoader.check(bytes: bytes, file: Self.file) }
        #expect(error?.diagnostics == [PolicyDiagnostic(line: 3, key: "", message: "not UTF-8 text")])
    }

    /// An environment that knows one group and finds the socket's directory unusable.
    struct FakeSystem: PolicyEnvironment {
        func problems(_ policy: Policy) -> [PolicyDiagnostic] {
            var out: [PolicyDiagnostic] = []
            for (key, group) in [("daemon.socket_group", policy.daemon.socketGroup), ("daemon.admin_group", policy.daemon.adminGroup)] {
                if let group, group != "mptcp" { out.append(PolicyDiagnostic(line: nil, key: key, message: "no group \"\(group)\" on this system")) }
            }
            if policy.daemon.stateDirectory == "/proc/nope" {
                out.append(PolicyDiagnostic(line: nil, key: "daemon.state_directory", message: "cannot create /proc/nope"))
            }
            return out
        }
    }

    @Test func theEnvironmentsProblemsGetTheLineOfTheirKeyInFileOrder() {
        let text = "[daemon]\nstate_directory = \"/proc/nope\"\nsocket_group = \"nobody-here\"\nadmin_group = \"mptcp\"\n[kernel]\non_exit = \"maybe\"\n"
        let error = #expect(throws: PolicyError.self) { try PolicyLoader.check(text, file: Self.file, environment: FakeSystem()) }
        #expect(error?.description == """
            /etc/mptcpctl/mptcpctld.toml:2: daemon.state_directory: cannot create /proc/nope
            /etc/mptcpctl/mptcpctld.toml:3: daemon.socket_group: no group "nobody-here" on this system
            /etc/mptcpctl/mptcpctld.toml:6: kernel.on_exit: "maybe" is not one of: remove, keep
            """)
        #expect(throws: Never.self) { try PolicyLoader.check("[daemon]\nadmin_group = \"mptcp\"\n", file: Self.file, environment: FakeSystem()) }
    }

    @Test func connectionBlocksWithoutTheUserspacePathManagerAreValidButWarnedAbout() throws {
        let blocks = "[[interface]]\nname = \"eth*\"\nrole = \"active\"\n[[connection]]\nname = \"bulk\"\n[[connection]]\nname = \"rest\"\n"
        let kernel = try PolicyLoader.check("[kernel]\npath_manager = \"kernel\"\n" + blocks, file: Self.file)
        #expect(kernel.policy.connections.count == 2)
        #expect(kernel.warnings.count == 1)
        #expect(kernel.warnings.first?.line == 6 && kernel.warnings.first?.key == "connection[1]")
        #expect(kernel.warnings.first?.message.contains("these 2 [[connection]] blocks are ignored with path_manager = \"kernel\"") == true,
                "\(kernel.warnings)")

        let keep = try PolicyLoader.check(blocks, file: Self.file)
        #expect(keep.warnings.first?.message.contains("path_manager left at keep") == true, "\(keep.warnings)")

        let userspace = try PolicyLoader.check("[kernel]\npath_manager = \"userspace\"\n" + blocks, file: Self.file)
        #expect(userspace.warnings.isEmpty)
        #expect(try PolicyLoader.check("[kernel]\npath_manager = \"kernel\"\n", file: Self.file).warnings.isEmpty)
    }

    @Test func announcePortWithoutTheUserspacePathManagerIsValidButWarnedAbout() throws {
        let blocks = "[[interface]]\nname = \"eth0\"\nrole = \"active\"\n[[interface]]\nname = \"eth1\"\nrole = \"active\"\nannounce = true\nannounce_port = 7000\n"
        let kernel = try PolicyLoader.check("[kernel]\npath_manager = \"kernel\"\n" + blocks, file: Self.file)
        #expect(kernel.policy.interfaces.last?.announcePort == 7000)
        #expect(kernel.warnings.count == 1, "\(kernel.warnings)")
        #expect(kernel.warnings.first?.line == 10 && kernel.warnings.first?.key == "interface[2].announce_port", "\(kernel.warnings)")
        #expect(kernel.warnings.first?.message.contains("ignored with path_manager = \"kernel\"") == true, "\(kernel.warnings)")

        let keep = try PolicyLoader.check(blocks, file: Self.file)
        #expect(keep.warnings.first?.message.contains("path_manager left at keep") == true, "\(keep.warnings)")

        let userspace = try PolicyLoader.check("[kernel]\npath_manager = \"userspace\"\n" + blocks, file: Self.file)
        #expect(userspace.warnings.isEmpty, "\(userspace.warnings)")
    }
}
