/// One method of the control API: its name on the wire, its parameters and its
/// result (both typed), and whether it changes the daemon's state (then only
/// root or `[daemon] admin_group` may call it). The daemon dispatches through
/// these definitions and the CLI calls through them, so a method is named and
/// shaped in one place.
public protocol ControlMethod: Sendable {
    associatedtype Params: ControlParams
    associatedtype Result: ControlRecord
    static var name: String { get }
    static var mutates: Bool { get }
}

extension ControlMethod {
    /// The method's definition, as a value (for tables of methods).
    public static var definition: ControlMethodDefinition {
        ControlMethodDefinition(name: name, parameters: Params.names, mutates: mutates)
    }

    /// The request for this method with `params`.
    public static func request(id: JSONValue?, _ params: Params) -> RPCRequest {
        RPCRequest(id: id, method: name, params: params.params)
    }
}

/// A method's name, parameter names and whether it mutates, without its types.
public struct ControlMethodDefinition: Hashable, Sendable {
    public var name: String
    public var parameters: Set<String>
    public var mutates: Bool
}

/// Every method of the control API (`mptcpctld(8)`, API).
public enum ControlMethods {
    public enum Status: ControlMethod {
        public static let name = "status"
        public static let mutates = false
        public typealias Params = NoParams
        public typealias Result = StatusRecord
    }

    public enum Connections: ControlMethod {
        public static let name = "connections"
        public static let mutates = false
        public typealias Params = NoParams
        public typealias Result = [ConnectionRecord]
    }

    public enum Endpoints: ControlMethod {
        public static let name = "endpoints"
        public static let mutates = false
        public typealias Params = NoParams
        public typealias Result = [EndpointRecord]
    }

    public enum Interfaces: ControlMethod {
        public static let name = "interfaces"
        public static let mutates = false
        public typealias Params = NoParams
        public typealias Result = [InterfaceRecord]
    }

    public enum Paths: ControlMethod {
        public static let name = "paths"
        public static let mutates = false
        public typealias Params = NoParams
        public typealias Result = [PathRecord]
    }

    public enum PolicyShow: ControlMethod {
        public static let name = "policy.show"
        public static let mutates = false
        public typealias Params = NoParams
        public typealias Result = PolicyShowRecord
    }

    public enum Subscribe: ControlMethod {
        public static let name = "subscribe"
        public static let mutates = false
        public typealias Params = SubscribeParams
        public typealias Result = SubscriptionRecord
    }

    public enum Metrics: ControlMethod {
        public static let name = "metrics"
        public static let mutates = false
        public typealias Params = NoParams
        public typealias Result = MetricsRecord
    }

    public enum PolicyPlan: ControlMethod {
        public static let name = "policy.plan"
        public static let mutates = false
        public typealias Params = NoParams
        public typealias Result = PlanRecord
    }

    public enum PolicyReload: ControlMethod {
        public static let name = "policy.reload"
        public static let mutates = true
        public typealias Params = NoParams
        public typealias Result = ReloadRecord
    }

    public enum SubflowCreate: ControlMethod {
        public static let name = "subflow.create"
        public static let mutates = true
        public typealias Params = SubflowCreateParams
        public typealias Result = SubflowCreatedRecord
    }

    public enum SubflowDestroy: ControlMethod {
        public static let name = "subflow.destroy"
        public static let mutates = true
        public typealias Params = SubflowDestroyParams
        public typealias Result = SubflowDestroyedRecord
    }

    public enum SubflowSetBackup: ControlMethod {
        public static let name = "subflow.set_backup"
        public static let mutates = true
        public typealias Params = SubflowSetBackupParams
        public typealias Result = BackupSetRecord
    }

    public enum Announce: ControlMethod {
        public static let name = "announce"
        public static let mutates = true
        public typealias Params = AnnounceParams
        public typealias Result = AnnouncedRecord
    }

    public enum Remove: ControlMethod {
        public static let name = "remove"
        public static let mutates = true
        public typealias Params = RemoveParams
        public typealias Result = RemovedRecord
    }

    public enum InterfaceNotify: ControlMethod {
        public static let name = "interface.notify"
        public static let mutates = true
        public typealias Params = InterfaceNotifyParams
        public typealias Result = InterfaceNotifiedRecord
    }

    /// Every method, in the order `mptcpctld(8)` lists them.
    public static let all: [any ControlMethod.Type] = [
        Status.self, Connections.self, Endpoints.self, Interfaces.self, Paths.self, PolicyShow.self, Subscribe.self, Metrics.self,
        PolicyPlan.self, PolicyReload.self, SubflowCreate.self, SubflowDestroy.self, SubflowSetBackup.self, Announce.self,
        Remove.self, InterfaceNotify.self,
    ]

    /// The definition of the method called `name`, if there is one.
    public static func definition(named name: String) -> ControlMethodDefinition? {
        all.first { $0.name == name }?.definition
    }
}
