import Glibc
import Testing
@testable import MPTCPKit

/// A kernel built without CONFIG_FIB_RULES answers the rule dump (RTM_GETRULE)
/// with EOPNOTSUPP: MPTCPKit classifies it, and the routing reads give no rules
/// (with the flag that says why) instead of failing.
@Suite struct PolicyRoutingSupportTests {
    /// `RoutingOperations` whose rule dump fails as scripted.
    final class Rules: RoutingOperations {
        let failure: MPTCPError?
        init(failing failure: MPTCPError?) { self.failure = failure }
        func rules() throws(MPTCPError) -> [RoutingRule] {
            if let failure { throw failure }
            return [RoutingRule(from: IPAddress("10.0.0.1")!, table: 7300, priority: 7300)]
        }
        func routes() throws(MPTCPError) -> [Route] { [] }
        func add(_ rule: RoutingRule) throws(MPTCPError) {}
        func delete(_ rule: RoutingRule) throws(MPTCPError) {}
        func add(_ route: Route) throws(MPTCPError) {}
        func delete(_ route: Route) throws(MPTCPError) {}
        func lookup(_ query: RouteQuery) throws(MPTCPError) -> Route { throw .invalidArgument("lookup", "not here") }
    }

    @Test func eopnotsuppFromTheKernelIsNotSupportedAndNothingElseIs() {
        let unsupported = MPTCPError.kernel("list routing rules", NetlinkStatus(error: -EOPNOTSUPP))
        #expect(unsupported.isNotSupported && !unsupported.isNotFound && !unsupported.isExists)
        #expect(!MPTCPError.kernel("list routing rules", NetlinkStatus(error: -EINVAL)).isNotSupported)
        #expect(!MPTCPError.kernel("list routing rules", NetlinkStatus(error: -EPERM)).isNotSupported)
        // A system call's EOPNOTSUPP is not the kernel refusing a request.
        #expect(!MPTCPError.system("setsockopt", errno: EOPNOTSUPP).isNotSupported)
    }

    @Test func aRuleDumpTheKernelDoesNotSupportGivesNoRulesNotAFailure() throws {
        let unsupported = MPTCPError.kernel("list routing rules", NetlinkStatus(error: -EOPNOTSUPP))
        #expect(try Rules(failing: unsupported).rulesIfSupported() == nil)
        #expect(try Rules(failing: nil).rulesIfSupported()?.count == 1)
    }

    @Test func anyOtherRuleDumpFailureIsStillThrown() {
        let denied = MPTCPError.kernel("list routing rules", NetlinkStatus(error: -EPERM))
        #expect(throws: MPTCPError.self) { try Rules(failing: denied).rulesIfSupported() }
    }

    @Test func aSnapshotHasPolicyRoutingUnlessSaidOtherwise() throws {
        #expect(NetworkSnapshot(links: [], addresses: [], defaultRoutes: []).hasPolicyRouting)
        #expect(try NetworkSnapshot(linkMessages: [], addressMessages: [], routeMessages: []).hasPolicyRouting)
        #expect(!NetworkSnapshot(links: [], addresses: [], defaultRoutes: [], hasPolicyRouting: false).hasPolicyRouting)
    }
}
