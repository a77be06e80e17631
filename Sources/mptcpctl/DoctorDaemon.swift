import MPTCPAPI
import MPTCPKit

/// What `doctor` asks mptcpctld (status, policy.show, interfaces, paths), as the facts
/// its checks use. A daemon that does not answer is a fact too, never an error.
enum DoctorDaemon {
    static func ask(_ global: GlobalOptions) -> ControlPlaneFacts {
        let path: String
        do { path = try global.socketPath } catch {
            return ControlPlaneFacts(reachability: .unreachable(socket: "(none)", reason: "\(error)"))
        }
        do {
            guard let daemon = try DaemonConnection.ifRunning(path) else {
                return ControlPlaneFacts(reachability: .absent(socket: path))
            }
            return try facts(daemon, path: path)
        } catch let error as DaemonUnavailable {
            return ControlPlaneFacts(reachability: .unreachable(socket: path, reason: error.message))
        } catch let error as CommandFailure {
            return ControlPlaneFacts(reachability: .unreachable(socket: path, reason: error.message))
        } catch {
            return ControlPlaneFacts(reachability: .unreachable(socket: path, reason: "\(error)"))
        }
    }

    private static func facts(_ daemon: DaemonConnection, path: String) throws -> ControlPlaneFacts {
        let status = try daemon.result(ControlMethods.Status.self).record
        let policy = try daemon.result(ControlMethods.PolicyShow.self).record.policy
        let interfaces = try daemon.result(ControlMethods.Interfaces.self).record
        var plane = ControlPlaneFacts(reachability: .answers)
        plane.description = "mptcpctld \(status.version), pid \(status.pid),"
        plane.pathManager = status.pathManager
        plane.userspacePathManager = status.userspacePathManager
        let kernel = policy["kernel"]
        plane.policyPathManager = kernel?["path_manager"]?.stringValue
        plane.policySubflowsLimit = kernel?["subflows_limit"]?.integerValue.flatMap(UInt32.init(exactly:))
        plane.policyAddAddrAcceptedLimit = kernel?["add_addr_accepted_limit"]?.integerValue.flatMap(UInt32.init(exactly:))
        plane.routingMode = status.routing?.mode ?? policy["routing"]?["mode"]?.stringValue
        plane.routingNotes = status.routing?.notes ?? []
        plane.managedInterfaces = interfaces.filter { $0.role != nil && $0.role != "off" }.map(\.name)
        do {
            plane.paths = try daemon.result(ControlMethods.Paths.self).record.map(pathFact)
        } catch let refused as CommandFailure where refused.daemonError != nil {
            // No health thread (or a daemon without `paths`): a fact, not a failure to ask.
            plane.pathHealthUnavailable = refused.message
        }
        return plane
    }

    private static func pathFact(_ p: PathRecord) -> PathHealthFact {
        PathHealthFact(interface: p.interface, family: p.family, state: p.state, rttMilliseconds: p.rttMilliseconds,
                       lossPercent: p.lossPercent, evidence: p.lastTransition.flatMap { $0.to == p.state ? $0.evidence : nil },
                       onPathDown: p.onPathDown)
    }
}
