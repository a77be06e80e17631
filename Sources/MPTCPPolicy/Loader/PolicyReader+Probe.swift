import TOMLKit

/// `[probe]` and the `probe` key of `[[interface]]` blocks (path health).
extension PolicyReader {
    static let probeKeys = ["targets", "interval", "timeout", "loss", "max_rtt", "max_loss", "recover_hold", "on_path_down", "mode"]
    /// Longest accepted `recover_hold`.
    static let recoverHoldCeilingMilliseconds = 600_000
    /// Longest accepted `max_rtt`.
    static let maxRTTCeilingMilliseconds = 60_000

    /// Reads `[probe]` into `policy.probe`, then each block's `probe` over it
    /// (a block's keys override `[probe]`, whatever their order in the file).
    /// The blocks were read already; this pass only adds their probe settings.
    mutating func probes(_ root: TOMLTable, into policy: inout Policy) {
        if let t = table(root, "probe", at: "") {
            policy.probe = probeSettings(t, over: ProbeSettings(), at: "probe")
        }
        guard let blocks = root["interface"]?.array else { return }
        for (i, element) in blocks.enumerated() {
            guard let block = element.table, let value = block["probe"] else { continue }
            let path = "interface[\(i + 1)].probe"
            var settings: ProbeSettings?
            if let on = value.bool {
                // `probe = true` is the default (inherit `[probe]`); false turns it off.
                if !on { settings = policy.probe; settings?.mode = .off }
            } else if let t = value.table {
                settings = probeSettings(t, over: policy.probe, at: path)
            } else {
                fail(path, "expected an inline table ({ interval = \"500ms\", ... }) or false, found \(kind(value))")
            }
            if let index = policy.interfaces.firstIndex(where: { $0.position == i + 1 }) { policy.interfaces[index].probe = settings }
        }
    }

    /// The keys of `t` over `base`; each refusal is recorded at `path.KEY`.
    mutating func probeSettings(_ t: TOMLTable, over base: ProbeSettings, at path: String) -> ProbeSettings {
        known(t, Self.probeKeys, at: path)
        var p = base
        if t["targets"] != nil { p.targets = probeTargets(t, at: path) }
        if let v = duration(t, "interval", at: path) {
            if v < ProbeSettings.intervalFloorMilliseconds {
                fail(path + ".interval", "\(v) ms is below the floor \"100ms\" (at most 10 probes a second per path)")
            } else if v > ProbeSettings.intervalCeilingMilliseconds {
                fail(path + ".interval", "\(v) ms is over 10m")
            } else {
                p.intervalMilliseconds = v
            }
        }
        if let s = t["timeout"]?.string, s == "adaptive" { p.timeoutMilliseconds = nil } else if let v = duration(t, "timeout", at: path) {
            if ProbeSettings.timeoutRangeMilliseconds.contains(v) { p.timeoutMilliseconds = v } else {
                fail(path + ".timeout", "must be \"adaptive\" or a duration from 10ms to 60s, not \(v) ms")
            }
        }
        if let v = int(t, "loss", at: path) {
            if ProbeSettings.lossRange.contains(v) { p.loss = v } else {
                fail(path + ".loss", "must be 1 to 100 lost probes in a row, not \(v)")
            }
        }
        if let v = duration(t, "max_rtt", at: path) {
            if (1...Self.maxRTTCeilingMilliseconds).contains(v) { p.maxRTTMilliseconds = v } else {
                fail(path + ".max_rtt", "must be 1ms to 60s, not \(v) ms")
            }
        }
        if let v = int(t, "max_loss", at: path) {
            if (0...100).contains(v) { p.maxLossPercent = v } else {
                fail(path + ".max_loss", "must be 0 to 100 (percent of the last 10 probes), not \(v)")
            }
        }
        if let v = duration(t, "recover_hold", at: path) {
            if v <= Self.recoverHoldCeilingMilliseconds { p.recoverHoldMilliseconds = v } else {
                fail(path + ".recover_hold", "must be 0s to 10m, not \(v) ms")
            }
        }
        if let v: ProbeSettings.OnPathDown = choice(t, "on_path_down", at: path) { p.onPathDown = v }
        if let v: ProbeSettings.Mode = choice(t, "mode", at: path) { p.mode = v }
        return p
    }

    /// `targets`: addresses (ICMP echo), `ADDRESS:PORT` (TCP connect), `gateway`, `peers`.
    mutating func probeTargets(_ t: TOMLTable, at path: String) -> [ProbeTarget] {
        let key = path + ".targets"
        var targets: [ProbeTarget] = []
        for text in strings(t, "targets", at: path) {
            guard let target = ProbeTarget(text) else {
                fail(key, "\"\(text)\" is not a probe target: an IP address (ICMP echo), IPv4:PORT or [IPv6]:PORT (TCP connect), "
                    + "\"gateway\" or \"peers\" (no host names: probing must not depend on name resolution)")
                continue
            }
            if let address = target.address, let why = Self.unusableGateway(address) {
                fail(key, "\"\(text)\" cannot be a probe target: \(why)")
            } else if !targets.contains(target) {
                targets.append(target)
            }
        }
        return targets
    }
}
