import MPTCPKit
import TOMLKit

/// The [[connection]] and [[interface]] blocks, and the list values they hold.
extension PolicyReader {
    mutating func connection(_ t: TOMLTable, at path: String, position: Int) -> ConnectionPolicy? {
        known(t, ["name", "match", "strategy", "mode", "max_subflows", "ndiffports", "retry", "failback_hold"], at: path)
        var ok = true
        guard let name = string(t, "name", at: path) else {
            if t["name"] == nil { fail(path, "missing key \"name\"") }
            return nil
        }
        var c = ConnectionPolicy(name: name)
        c.position = position
        if name.isEmpty { fail(path + ".name", "must not be empty"); ok = false }
        if let m = table(t, "match", at: path) {
            let mp = path + ".match"
            known(m, ["side", "remote", "remote_port", "local_port", "interface"], at: mp)
            if let side: ConnectionMatch.Side = choice(m, "side", at: mp) { c.match.side = side }
            for text in strings(m, "remote", at: mp) {
                if let prefix = IPPrefix(text) { c.match.remote.append(prefix) } else {
                    fail(mp + ".remote", "\"\(text)\" is not an address or prefix (10.0.0.0/8, 2001:db8::/32)"); ok = false
                }
            }
            c.match.remotePorts = ports(m, "remote_port", at: mp, ok: &ok)
            c.match.localPorts = ports(m, "local_port", at: mp, ok: &ok)
            for text in strings(m, "interface", at: mp) {
                do { c.match.interfaces.append(try Glob(text)) } catch {
                    fail(mp + ".interface", "bad pattern: \(error.message)"); ok = false
                }
            }
        }
        if let v: Strategy = choice(t, "strategy", at: path) { c.strategy = v }
        if let v: SteeringMode = choice(t, "mode", at: path) { c.mode = v }
        if let v = int(t, "max_subflows", at: path) {
            if (0...64).contains(v) { c.maxSubflows = v } else { fail(path + ".max_subflows", "must be 0 to 64, not \(v)"); ok = false }
        }
        if let v = int(t, "ndiffports", at: path) {
            if !(1...16).contains(v) { fail(path + ".ndiffports", "must be 1 to 16, not \(v)"); ok = false }
            else if c.strategy != .ndiffports { fail(path + ".ndiffports", "is only used with strategy = \"ndiffports\""); ok = false }
            else { c.ndiffports = v }
        }
        if let r = table(t, "retry", at: path) {
            let rp = path + ".retry"
            known(r, ["initial", "max", "attempts", "join_timeout"], at: rp)
            if let v = duration(r, "initial", at: rp) { c.retry.initialMilliseconds = max(1, v) }
            if let v = duration(r, "max", at: rp) { c.retry.maximumMilliseconds = v }
            if let v = int(r, "attempts", at: rp) {
                if (0...1000).contains(v) { c.retry.attempts = v } else { fail(rp + ".attempts", "must be 0 to 1000, not \(v)"); ok = false }
            }
            if let v = duration(r, "join_timeout", at: rp) {
                if RetryPolicy.joinTimeoutRange.contains(v) { c.retry.joinTimeoutMilliseconds = v } else {
                    fail(rp + ".join_timeout", "must be 1s to 10m, not \(v) ms"); ok = false
                }
            }
            if c.retry.initialMilliseconds > c.retry.maximumMilliseconds {
                fail(rp, "initial (\(c.retry.initialMilliseconds) ms) is longer than max (\(c.retry.maximumMilliseconds) ms)"); ok = false
            }
        }
        if let v = duration(t, "failback_hold", at: path) { c.failbackHoldMilliseconds = v }
        return ok ? c : nil
    }

    /// A string or an array of strings.
    mutating func strings(_ t: TOMLTable, _ key: String, at path: String) -> [String] {
        guard let value = t[key] else { return [] }
        if let s = value.string { return [s] }
        if let array = value.array {
            var out: [String] = []
            for (i, e) in array.enumerated() {
                if let s = e.string { out.append(s) } else { fail(join(path, key), "element \(i + 1): expected a string, found \(kind(e))") }
            }
            return out
        }
        fail(join(path, key), "expected a string or an array of strings, found \(kind(value))")
        return []
    }

    /// A port or an array of ports, 1-65535.
    mutating func ports(_ t: TOMLTable, _ key: String, at path: String, ok: inout Bool) -> [UInt16] {
        guard let value = t[key] else { return [] }
        let elements: [TOMLValueConvertible]
        if value.type == .int { elements = [value] } else if let array = value.array { elements = Array(array) } else {
            fail(join(path, key), "expected a port or an array of ports, found \(kind(value))"); ok = false
            return []
        }
        var out: [UInt16] = []
        for e in elements {
            if e.type == .int, let n = e.int, (1...65535).contains(n) { out.append(UInt16(n)) } else {
                fail(join(path, key), "\(describe(e)) is not a port (1-65535)"); ok = false
            }
        }
        return out
    }

    /// `"200ms"`, `"3s"`, `"2m"`.
    mutating func duration(_ t: TOMLTable, _ key: String, at path: String) -> Int? {
        guard let s = string(t, key, at: path) else { return nil }
        if let ms = parseDuration(s) { return ms }
        fail(join(path, key), "\"\(s)\" is not a duration (\"200ms\", \"3s\", \"1.5s\", \"2m\")")
        return nil
    }

    mutating func interface(_ t: TOMLTable, at path: String, position: Int) -> InterfaceRule? {
        known(t, ["name", "role", "announce", "announce_port", "fullmesh", "families", "skip_link_local", "require_default_route",
                  "gateway", "probe"], at: path)
        var globs: [Glob] = []
        var ok = true
        if let value = t["name"] {
            var patterns: [String] = []
            if let s = value.string {
                patterns = [s]
            } else if let array = value.array {
                for (i, element) in array.enumerated() {
                    if let s = element.string { patterns.append(s) } else {
                        fail(path + ".name", "element \(i + 1): expected a string, found \(kind(element))")
                        ok = false
                    }
                }
                if array.isEmpty { fail(path + ".name", "an empty list matches no interface"); ok = false }
            } else {
                fail(path + ".name", "expected a string or an array of strings, found \(kind(value))")
                ok = false
            }
            for p in patterns {
                do { globs.append(try Glob(p)) } catch {
                    fail(path + ".name", "bad pattern: \(error.message)")
                    ok = false
                }
            }
        } else {
            fail(path, "missing key \"name\" (the interfaces this block applies to)")
            ok = false
        }
        let role: Role? = choice(t, "role", at: path)
        if t["role"] == nil {
            fail(path, "missing key \"role\" (one of: \(Role.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var rule = InterfaceRule(names: globs, role: role ?? .off, position: position)
        if let v = bool(t, "announce", at: path) { rule.announce = v }
        if let v = bool(t, "fullmesh", at: path) { rule.fullmesh = v }
        if rule.announce && rule.fullmesh {
            fail(path + ".fullmesh", "cannot be combined with announce = true (the kernel refuses signal together with fullmesh)")
            ok = false
        }
        if let v = int(t, "announce_port", at: path) {
            if !(1...65535).contains(v) {
                fail(path + ".announce_port", "\(v) is not a port (1-65535)"); ok = false
            } else if !rule.announce {
                fail(path + ".announce_port", "needs announce = true (it is the port the addresses are announced on)"); ok = false
            } else {
                rule.announcePort = UInt16(v)
            }
        } else if t["announce_port"] != nil {
            ok = false
        }
        if let value = t["families"] {
            if let array = value.array {
                var families: Set<AddressFamily> = []
                for (i, element) in array.enumerated() {
                    if let s = element.string, let f = AddressFamily(rawValue: s) { families.insert(f) } else {
                        fail(path + ".families", "element \(i + 1): expected \"ipv4\" or \"ipv6\", found \(describe(element))")
                        ok = false
                    }
                }
                if array.isEmpty { fail(path + ".families", "an empty list uses no address; leave the key out for both"); ok = false }
                rule.families = families
            } else {
                fail(path + ".families", "expected an array of \"ipv4\"/\"ipv6\", found \(kind(value))")
                ok = false
            }
        }
        if let v = bool(t, "skip_link_local", at: path) { rule.skipLinkLocal = v }
        if let v = bool(t, "require_default_route", at: path) { rule.requireDefaultRoute = v }
        rule.gateways = gateways(t, at: path, names: globs, ok: &ok)
        return ok && role != nil ? rule : nil
    }
}
