/// `status`: the running daemon. Every member is always present (`routing`:
/// from a daemon with source routing); those the
/// daemon cannot tell (a sysctl it cannot read, no userspace path manager) are null.
public struct StatusRecord: ControlRecord {
    public var version: String
    public var apiVersion: Int
    public var pid: Int
    /// The namespace's name, `host` for the host's.
    public var namespace: String
    /// Seconds since start, to the millisecond.
    public var uptimeSeconds: Double
    public var pathManager: String?
    public var scheduler: String?
    /// The policy file.
    public var config: String
    /// When the running policy was loaded (ISO 8601).
    public var configLoadedAt: String
    public var reloads: Int
    public var ownedEndpoints: Int
    /// Connections the userspace path manager tracks; nil when it does not run.
    public var connections: Int?
    public var userspacePathManager: Bool
    /// Requests handled since start.
    public var apiRequests: Int
    /// The source routing the daemon owns; nil (and absent from the JSON) from
    /// a daemon without source routing.
    public var routing: RoutingStatusRecord?
    /// Judged paths by state (`paths`); nil (and absent from the JSON) when the health thread does not run.
    public var paths: PathsSummaryRecord?

    public init(version: String, apiVersion: Int, pid: Int, namespace: String, uptimeSeconds: Double, pathManager: String?,
                scheduler: String?, config: String, configLoadedAt: String, reloads: Int, ownedEndpoints: Int,
                connections: Int?, userspacePathManager: Bool, apiRequests: Int,
                routing: RoutingStatusRecord? = nil, paths: PathsSummaryRecord? = nil) {
        self.version = version
        self.apiVersion = apiVersion
        self.pid = pid
        self.namespace = namespace
        self.uptimeSeconds = uptimeSeconds
        self.pathManager = pathManager
        self.scheduler = scheduler
        self.config = config
        self.configLoadedAt = configLoadedAt
        self.reloads = reloads
        self.ownedEndpoints = ownedEndpoints
        self.connections = connections
        self.userspacePathManager = userspacePathManager
        self.apiRequests = apiRequests
        self.routing = routing
        self.paths = paths
    }

    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "version": .string(version), "api_version": .integer(Int64(apiVersion)), "pid": .integer(Int64(pid)),
            "namespace": .string(namespace), "uptime_seconds": .number(uptimeSeconds),
            "path_manager": orNull(pathManager), "scheduler": orNull(scheduler),
            "config": .string(config), "config_loaded_at": .string(configLoadedAt), "reloads": .integer(Int64(reloads)),
            "owned_endpoints": .integer(Int64(ownedEndpoints)), "connections": orNull(connections),
            "userspace_path_manager": .bool(userspacePathManager), "api_requests": .integer(Int64(apiRequests)),
        ]
        if let routing { members["routing"] = routing.json }
        if let paths { members["paths"] = paths.json }
        return .object(members)
    }

    public init(json: JSONValue) throws(RPCError) {
        let r = try RecordReader(json, "status")
        self.init(version: try r.string("version"), apiVersion: try r.integer("api_version"), pid: try r.integer("pid"),
                  namespace: try r.string("namespace"), uptimeSeconds: try r.number("uptime_seconds"),
                  pathManager: try r.optionalString("path_manager"), scheduler: try r.optionalString("scheduler"),
                  config: try r.string("config"), configLoadedAt: try r.string("config_loaded_at"),
                  reloads: try r.integer("reloads"), ownedEndpoints: try r.integer("owned_endpoints"),
                  connections: try r.optionalInteger("connections"),
                  userspacePathManager: try r.bool("userspace_path_manager"), apiRequests: try r.integer("api_requests"),
                  routing: try r.members["routing"].map { v throws(RPCError) in try RoutingStatusRecord(json: v) },
                  paths: try r.members["paths"].map { v throws(RPCError) in try PathsSummaryRecord(json: v) })
    }
}
