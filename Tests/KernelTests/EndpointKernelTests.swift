import Foundation
import MPTCPKit
import Testing

/// Endpoints, limits and sysctls against the real kernel, cross-checked with `ip mptcp`.
/// One lab for the suite; tests run one after another because they share it.
@Suite(.serialized, .enabled(if: KernelRequirement.enabled, KernelRequirement.comment))
final class EndpointKernelTests {
    let lab: Lab
    let pm: PathManager

    init() throws {
        lab = try Lab(paths: 2)
        pm = try PathManager(namespace: lab.clientNamespace)
        try pm.flushEndpoints()
    }

    deinit { lab.close() }

    /// `ip -j mptcp endpoint show` in the client namespace, as comparable tuples.
    func ipEndpoints() throws -> [String] {
        let out = try lab.exec(lab.client, ["ip", "-j", "mptcp", "endpoint", "show"]).stdout
        let list = (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]]) ?? []
        return list.map { e in
            // iproute2 names the flags it knows and prints the rest as "rawflags" (hex).
            var flags = EndpointFlags()
            for (name, flag) in EndpointFlags.named where e[name] as? Bool == true { flags.insert(flag) }
            if let raw = (e["rawflags"] as? String).flatMap({ UInt32($0, radix: 16) }) {
                flags.formUnion(EndpointFlags(rawValue: raw))
            }
            return "\(e["id"] ?? "?") \(e["address"] ?? "?") \(e["port"] ?? 0) \(flags.names.joined(separator: ",")) \(e["dev"] ?? "-")"
        }.sorted()
    }

    func ourEndpoints() throws -> [String] {
        let names = try InterfaceTable.read(namespace: lab.clientNamespace).names
        return try pm.endpoints().map { e in
            "\(e.id) \(e.address) \(e.port) \(e.flags.names.joined(separator: ",")) \(e.interfaceIndex == 0 ? "-" : names[e.interfaceIndex] ?? "?")"
        }.sorted()
    }

    @Test func endpointsAddShowSetDeleteFlushMatchIP() throws {
        let a1 = lab.address("a", path: 1), a2 = lab.address("a", path: 2)
        let ifIndex = try #require(try InterfaceTable.read(namespace: lab.clientNamespace).index(of: "a2"))
        try pm.addEndpoint(Endpoint(id: 5, address: a2, flags: [.subflow, .backup], interfaceIndex: ifIndex))
        try pm.addEndpoint(Endpoint(address: a1, port: 10200, flags: [.signal]))
        try pm.addEndpoint(Endpoint(id: 9, address: lab.address("a", path: 2, v6: true), flags: [.subflow, .fullmesh]))
        try pm.addEndpoint(Endpoint(address: IPAddress("10.0.9.1")!, flags: [.subflow, .laminar]))
        #expect(try ourEndpoints() == ipEndpoints())

        let listed = try pm.endpoints()
        #expect(listed.map(\.id) == listed.map(\.id).sorted())
        let signal = try #require(listed.first { $0.port == 10200 })
        #expect(signal.id == 6, "the kernel allocates ids from the last one used")
        #expect(try pm.endpoint(id: 5) == Endpoint(id: 5, address: a2, flags: [.subflow, .backup], interfaceIndex: ifIndex))

        try pm.setEndpointFlags(id: 5, flags: [.fullmesh])
        #expect(try pm.endpoint(id: 5).flags == [.subflow, .fullmesh])
        #expect(try ourEndpoints() == ipEndpoints())

        #expect(try pm.endpointID(for: a1, port: 10200) == 6)
        try pm.deleteEndpoint(id: 6)
        #expect(try pm.endpoints().count == 3)
        #expect(try ourEndpoints() == ipEndpoints())

        try pm.flushEndpoints()
        #expect(try pm.endpoints().isEmpty)
        #expect(try ipEndpoints().isEmpty)
    }

    @Test func kernelRefusalsKeepTheirTextAndChangeNothing() throws {
        try pm.addEndpoint(Endpoint(id: 1, address: IPAddress("10.0.1.1")!, flags: .subflow))
        let before = try ipEndpoints()

        let duplicate = #expect(throws: MPTCPError.self) {
            try self.pm.addEndpoint(Endpoint(address: IPAddress("10.0.1.1")!, flags: .subflow))
        }
        #expect(duplicate?.errno == EEXIST)
        #expect(duplicate?.kernelMessage == "too many addresses or duplicate one: -17")

        let busy = #expect(throws: MPTCPError.self) {
            try self.pm.addEndpoint(Endpoint(id: 1, address: IPAddress("10.0.7.1")!, flags: .subflow))
        }
        #expect(busy?.errno == EBUSY)

        let unknown = #expect(throws: MPTCPError.self) { try self.pm.deleteEndpoint(id: 77) }
        #expect(unknown?.kernelMessage == "address not found")
        #expect(unknown?.errno == EINVAL)

        let both = #expect(throws: MPTCPError.self) {
            try self.pm.addEndpoint(Endpoint(address: IPAddress("10.0.8.1")!, flags: [.signal, .fullmesh]))
        }
        #expect(both?.kernelMessage == "flags mustn't have both signal and fullmesh")
        #expect(try ipEndpoints() == before)

        // Eight endpoints is the most a namespace holds.
        for i in 2...8 { try pm.addEndpoint(Endpoint(address: IPAddress("10.0.20.\(i)")!, flags: .subflow)) }
        let full = try ipEndpoints()
        let ninth = #expect(throws: MPTCPError.self) {
            try self.pm.addEndpoint(Endpoint(address: IPAddress("10.0.20.9")!, flags: .subflow))
        }
        #expect(ninth?.errno == ERANGE)
        #expect(ninth?.kernelMessage == "too many addresses or duplicate one: -34")
        #expect(try ipEndpoints() == full)
        try pm.flushEndpoints()
    }

    @Test func limitsMatchIPAndOverEightIsRefusedWithTheKernelsWords() throws {
        try pm.setLimits(subflows: 5, addAddrAccepted: 3)
        #expect(try pm.limits() == Limits(subflows: 5, addAddrAccepted: 3))
        let ip = try lab.exec(lab.client, ["ip", "mptcp", "limits", "show"]).stdout
        #expect(ip.contains("add_addr_accepted 3") && ip.contains("subflows 5"))

        try pm.setLimits(subflows: 8)
        #expect(try pm.limits() == Limits(subflows: 8, addAddrAccepted: 3), "an absent limit stays as it was")

        let error = #expect(throws: MPTCPError.self) { try self.pm.setLimits(subflows: 1, addAddrAccepted: 9) }
        #expect(error?.kernelMessage == "limit greater than maximum (8)")
        #expect(error?.description.contains("limit greater than maximum (8)") == true)
        #expect(try pm.limits() == Limits(subflows: 8, addAddrAccepted: 3), "a refused request changes nothing")
        try pm.setLimits(subflows: 2, addAddrAccepted: 0)
    }

    @Test func pathManagerAndSchedulerSelection() throws {
        let sysctl = try MPTCPSysctl(namespace: lab.clientNamespace)
        #expect(try sysctl.availablePathManagers().contains("userspace"))
        try sysctl.setPathManager("userspace")
        #expect(try sysctl.pathManager() == "userspace")
        let pmType = try lab.exec(lab.client, ["sysctl", "-n", "net.mptcp.pm_type"]).stdout
        #expect(pmType.hasPrefix("1"), "the kernel keeps pm_type in step")
        #expect(throws: MPTCPError.self) { try sysctl.setPathManager("fullmesh") }
        #expect(try sysctl.pathManager() == "userspace")
        try sysctl.setPathManager("kernel")
        #expect(try sysctl.pathManager() == "kernel")

        #expect(try sysctl.availableSchedulers().contains("default"))
        try sysctl.setScheduler("default")
        #expect(try sysctl.scheduler() == "default")
        let refused = #expect(throws: MPTCPError.self) { try sysctl.setScheduler("redundant") }
        #expect(refused?.description.contains("available: default") == true)
        #expect(try sysctl.scheduler() == "default")
    }

    @Test func aNamedNamespaceLeavesTheCallersAlone() throws {
        let hostBefore = try run("/usr/sbin/ip", ["mptcp", "endpoint", "show"]).stdout
        try pm.addEndpoint(Endpoint(address: IPAddress("10.0.30.1")!, flags: .subflow))
        #expect(try run("/usr/sbin/ip", ["mptcp", "endpoint", "show"]).stdout == hostBefore)
        #expect(try lab.exec(lab.client, ["ip", "mptcp", "endpoint", "show"]).stdout.contains("10.0.30.1"))
        try pm.flushEndpoints()
        #expect(throws: MPTCPError.self) { try PathManager(namespace: try NetworkNamespace(named: "mptcpctl-no-such-ns")) }
    }
}
