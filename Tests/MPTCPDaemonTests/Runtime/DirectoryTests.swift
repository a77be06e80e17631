import Testing
@testable import MPTCPDaemon
#if canImport(Glibc)
import Glibc
#endif

/// The Glibc replacements of full Foundation's NSString and FileManager calls.
@Suite struct DirectoryTests {
    @Test func containingDropsTheLastComponentAsNSStringDid() {
        #expect(Directory.containing("/run/mptcpctl/mptcpctld.sock") == "/run/mptcpctl")
        #expect(Directory.containing("/run/mptcpctl/") == "/run")
        #expect(Directory.containing("/run") == "/")
        #expect(Directory.containing("/") == "/")
        #expect(Directory.containing("state.json") == "")
        #expect(Directory.containing("a/b") == "a")
        #expect(Directory.containing("") == "")
    }

    @Test func createMakesEveryMissingDirectoryAndAcceptsExistingOnes() throws {
        let base = "/tmp/mptcpctl-directory-test-\(getpid())"
        defer { _ = rmdir(base + "/a/b"); _ = rmdir(base + "/a"); _ = rmdir(base) }
        #expect(Directory.create(base + "/a/b", mode: 0o755) == nil)
        var info = stat()
        #expect(stat(base + "/a/b", &info) == 0 && info.st_mode & S_IFMT == S_IFDIR)
        #expect(Directory.create(base + "/a/b", mode: 0o755) == nil)
    }

    @Test func createRefusesAFileInTheWay() throws {
        let file = "/tmp/mptcpctl-directory-test-file-\(getpid())"
        let fd = open(file, O_CREAT | O_WRONLY, 0o600)
        try #require(fd >= 0)
        close(fd)
        defer { unlink(file) }
        #expect(Directory.create(file + "/sub", mode: 0o755) == ENOTDIR)
        #expect(Directory.create(file, mode: 0o755) == ENOTDIR)
    }
}
