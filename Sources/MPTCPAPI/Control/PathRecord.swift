/// `paths`: one judged path (interface × family) as the daemon's health thread
/// sees it. `rtt_ms` and `loss_percent` are null before the first probe
/// answer / judged probe; `last_transition` is null before the first change.
public struct PathRecord: ControlRecord {
    /// One probe target of the path, and whether it ever answered (a target
    /// that never did is not evidence: its lost probes are not counted).
    public struct Target: Hashable, Sendable {
        public var target: String
        public var answered: Bool
        public init(target: String, answered: Bool) {
            self.target = target
            self.answered = answered
        }
    }

    /// A change of state, with its evidence.
    public struct Transition: Hashable, Sendable {
        public var from: String
        public var to: String
        /// Seconds since 1970.
        public var at: Double
        public var evidence: String
        public init(from: String, to: String, at: Double, evidence: String) {
            self.from = from
            self.to = to
            self.at = at
            self.evidence = evidence
        }
    }

    public var interface: String
    /// `ipv4` or `ipv6`.
    public var family: String
    /// `unknown`, `up`, `degraded` or `down`.
    public var state: String
    /// The address probes leave from.
    public var source: String
    public var gateway: String?
    /// The smoothed probe RTT in milliseconds.
    public var rttMilliseconds: Double?
    /// Lost percent of the last 10 judged probes.
    public var lossPercent: Int?
    public var targets: [Target]
    public var probesSent: Int
    public var probesLost: Int
    /// `withdraw` or `backup`: what steering does while the path is down.
    public var onPathDown: String
    public var lastTransition: Transition?
    /// Whether a connection with an established subflow on the path had data in
    /// flight, and moved data within 500 ms, at the health thread's last reading: a `down` path's withdrawal
    /// (`on_path_down = "withdraw"`) then waits until they have none, the path
    /// backup meanwhile while another path of its family is usable. False when
    /// a daemon does not say.
    public var dataInFlight: Bool

    public init(interface: String, family: String, state: String, source: String, gateway: String?, rttMilliseconds: Double?,
                lossPercent: Int?, targets: [Target], probesSent: Int, probesLost: Int, onPathDown: String,
                lastTransition: Transition?, dataInFlight: Bool = false) {
        self.interface = interface
        self.family = family
        self.state = state
        self.source = source
        self.gateway = gateway
        self.rttMilliseconds = rttMilliseconds
        self.lossPercent = lossPercent
        self.targets = targets
        self.probesSent = probesSent
        self.probesLost = probesLost
        self.onPathDown = onPathDown
        self.lastTransition = lastTransition
        self.dataInFlight = dataInFlight
    }

    /// A `down` path whose withdrawal (`on_path_down = "withdraw"`) waits while
    /// its connections have data in flight.
    public var withdrawalWaits: Bool { state == "down" && onPathDown == "withdraw" && dataInFlight }

    public var json: JSONValue {
        let transition: JSONValue = lastTransition.map {
            ["from": .string($0.from), "to": .string($0.to), "at": .number($0.at), "evidence": .string($0.evidence)]
        } ?? .null
        return [
            "interface": .string(interface), "family": .string(family), "state": .string(state), "source": .string(source),
            "gateway": orNull(gateway), "rtt_ms": rttMilliseconds.map { .number($0) } ?? .null, "loss_percent": orNull(lossPercent),
            "targets": .array(targets.map { ["target": .string($0.target), "answered": .bool($0.answered)] }),
            "probes_sent": .integer(Int64(probesSent)), "probes_lost": .integer(Int64(probesLost)),
            "on_path_down": .string(onPathDown), "last_transition": transition, "data_in_flight": .bool(dataInFlight),
        ]
    }

    public init(json: JSONValue) throws(RPCError) {
        let r = try RecordReader(json, "path")
        var targets: [Target] = []
        for t in try r.array("targets") {
            let tr = try RecordReader(t, "path.targets")
            targets.append(Target(target: try tr.string("target"), answered: try tr.bool("answered")))
        }
        var transition: Transition?
        if let t = r.members["last_transition"], t != .null {
            let tr = try RecordReader(t, "path.last_transition")
            transition = Transition(from: try tr.string("from"), to: try tr.string("to"), at: try tr.number("at"),
                                    evidence: try tr.string("evidence"))
        }
        let rtt: Double? = r.members["rtt_ms"] == nil || r.members["rtt_ms"] == .null ? nil : try r.number("rtt_ms")
        self.init(interface: try r.string("interface"), family: try r.string("family"), state: try r.string("state"),
                  source: try r.string("source"), gateway: try r.optionalString("gateway"), rttMilliseconds: rtt,
                  lossPercent: try r.optionalInteger("loss_percent"), targets: targets, probesSent: try r.integer("probes_sent"),
                  probesLost: try r.integer("probes_lost"), onPathDown: try r.string("on_path_down"), lastTransition: transition,
                  dataInFlight: r.members["data_in_flight"] == nil ? false : try r.bool("data_in_flight"))
    }
}

/// `status`'s `paths`: how many judged paths are in each state.
public struct PathsSummaryRecord: Hashable, Sendable {
    public var up: Int
    public var degraded: Int
    public var down: Int
    public var unknown: Int

    public init(up: Int = 0, degraded: Int = 0, down: Int = 0, unknown: Int = 0) {
        self.up = up
        self.degraded = degraded
        self.down = down
        self.unknown = unknown
    }

    public var json: JSONValue {
        ["up": .integer(Int64(up)), "degraded": .integer(Int64(degraded)), "down": .integer(Int64(down)),
         "unknown": .integer(Int64(unknown))]
    }

    public init(json: JSONValue) throws(RPCError) {
        let r = try RecordReader(json, "status.paths")
        self.init(up: try r.integer("up"), degraded: try r.integer("degraded"), down: try r.integer("down"),
                  unknown: try r.integer("unknown"))
    }
}
