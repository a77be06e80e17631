import TOMLKit

/// Typed access to a TOML table: each reader records a problem, with its key
/// path, when the value is of another kind.
extension PolicyReader {

    mutating func known(_ t: TOMLTable, _ allowed: [String], at path: String) {
        for key in t.keys where !allowed.contains(key) {
            let full = path.isEmpty ? key : path + "." + key
            let near = allowed.min { distance($0, key) < distance($1, key) }
            var message = "unknown key \"\(key)\""
            if let near, distance(near, key) <= 2 { message += "; did you mean \"\(near)\"?" } else {
                message += "; known keys here: " + allowed.joined(separator: ", ")
            }
            fail(full, message)
        }
    }

    mutating func table(_ t: TOMLTable, _ key: String, at path: String) -> TOMLTable? {
        guard let value = t[key] else { return nil }
        if let table = value.table { return table }
        fail(join(path, key), "expected a table, found \(kind(value))")
        return nil
    }

    mutating func string(_ t: TOMLTable, _ key: String, at path: String) -> String? {
        guard let value = t[key] else { return nil }
        if let s = value.string { return s }
        fail(join(path, key), "expected a string, found \(kind(value))")
        return nil
    }

    mutating func bool(_ t: TOMLTable, _ key: String, at path: String) -> Bool? {
        guard let value = t[key] else { return nil }
        if let b = value.bool { return b }
        fail(join(path, key), "expected a boolean (true or false), found \(kind(value))")
        return nil
    }

    mutating func int(_ t: TOMLTable, _ key: String, at path: String) -> Int? {
        guard let value = t[key] else { return nil }
        if value.type == .int, let i = value.int { return i }
        fail(join(path, key), "expected an integer, found \(kind(value))")
        return nil
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ t: TOMLTable, _ key: String, at path: String) -> T?
    where T.RawValue == String {
        guard let s = string(t, key, at: path) else { return nil }
        if let v = T(rawValue: s) { return v }
        fail(join(path, key), "\"\(s)\" is not one of: " + T.allCases.map(\.rawValue).joined(separator: ", "))
        return nil
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// "a string", "an integer", ... for messages.
    func kind(_ value: TOMLValueConvertible) -> String {
        switch value.type {
        case .string: return "a string"
        case .int: return "an integer"
        case .double: return "a float"
        case .bool: return "a boolean"
        case .array: return "an array"
        case .table: return "a table"
        default: return "a date or time"
        }
    }

    func describe(_ value: TOMLValueConvertible) -> String {
        if let s = value.string { return "\"\(s)\"" }
        if value.type == .int, let n = value.int { return String(n) }
        return kind(value)
    }
}

/// Levenshtein distance, for "did you mean".
fileprivate func distance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var row = Array(0...b.count)
    for i in 1...a.count {
        var previous = row[0]
        row[0] = i
        for j in 1...b.count {
            let current = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
            previous = current
        }
    }
    return row[b.count]
}
