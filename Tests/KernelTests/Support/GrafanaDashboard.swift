import Foundation

/// The shipped Grafana dashboard (config/grafana/mptcpctl.json), read as Grafana
/// reads its JSON model: panels (rows' nested panels too) and their Prometheus targets.
struct GrafanaDashboard {
    /// One query of a panel.
    struct Target: CustomStringConvertible {
        var panel: String
        var refId: String
        var expression: String
        var datasourceUID: String?
        var description: String { "panel '\(panel)' target \(refId): \(expression)" }

        /// The PromQL Grafana sends: `$__rate_interval` (and its `${…}` form) replaced by `rateInterval`.
        func promQL(rateInterval: String) -> String {
            expression.replacingOccurrences(of: "${__rate_interval}", with: rateInterval)
                .replacingOccurrences(of: "$__rate_interval", with: rateInterval)
        }
    }

    let json: [String: Any]
    let panels: [[String: Any]]
    let targets: [Target]

    static var shippedPath: String { Repository.root.appendingPathComponent("config/grafana/mptcpctl.json").path }

    static func shipped() throws -> GrafanaDashboard {
        let data = try Data(contentsOf: URL(fileURLWithPath: shippedPath))
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw LabError("\(shippedPath): not a JSON object")
        }
        return try GrafanaDashboard(json: json)
    }

    init(json: [String: Any]) throws {
        self.json = json
        func flatten(_ list: [[String: Any]]) -> [[String: Any]] {
            list.flatMap { [$0] + flatten($0["panels"] as? [[String: Any]] ?? []) }
        }
        panels = flatten(json["panels"] as? [[String: Any]] ?? [])
        var targets: [Target] = []
        for panel in panels where panel["type"] as? String != "row" {
            let title = panel["title"] as? String ?? "?"
            for target in panel["targets"] as? [[String: Any]] ?? [] {
                guard let expression = target["expr"] as? String, !expression.isEmpty else {
                    throw LabError("panel '\(title)': a target without a PromQL expression: \(target)")
                }
                targets.append(Target(panel: title, refId: target["refId"] as? String ?? "?", expression: expression,
                                      datasourceUID: (target["datasource"] as? [String: Any])?["uid"] as? String))
            }
        }
        self.targets = targets
    }

    /// The dashboard's `templating` variables.
    var variables: [[String: Any]] { (json["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? [] }
}
