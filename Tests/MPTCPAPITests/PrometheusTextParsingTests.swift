import MPTCPAPI
import Testing

/// `mptcpctl metrics --json` structures the daemon's Prometheus text with this parser.
struct PrometheusTextParsingTests {
    static let text = """
        # HELP mptcpctld_subflows_failed_total Subflow requests the kernel refused or that timed out.
        # TYPE mptcpctld_subflows_failed_total counter
        mptcpctld_subflows_failed_total 0
        # HELP mptcpctld_api_requests_total Control API requests, by method and result.
        # TYPE mptcpctld_api_requests_total counter
        mptcpctld_api_requests_total{method="status",result="ok"} 3
        mptcpctld_api_requests_total{method="subscribe", result="error"} 1
        # TYPE mptcpctld_reconcile_seconds histogram
        mptcpctld_reconcile_seconds_bucket{le="0.1"} 2
        mptcpctld_reconcile_seconds_bucket{le="+Inf"} 2
        mptcpctld_reconcile_seconds_sum 0.0125
        mptcpctld_reconcile_seconds_count 2
        # a plain comment
        mptcpctld_uptime_seconds 12.5
        odd{reason="say \\"hi\\"\\nthere"} NaN

        """

    @Test func familiesKeepHelpTypeAndSamplesInOrder() throws {
        let families = try PrometheusText.parse(Self.text)
        #expect(families.map(\.name) == ["mptcpctld_subflows_failed_total", "mptcpctld_api_requests_total",
                                         "mptcpctld_reconcile_seconds", "mptcpctld_uptime_seconds", "odd"])
        #expect(families[0].type == "counter")
        #expect(families[0].help == "Subflow requests the kernel refused or that timed out.")
        #expect(families[0].samples == [.init(name: "mptcpctld_subflows_failed_total", labels: [:], value: 0)])
        #expect(families[1].samples.map(\.labels) == [["method": "status", "result": "ok"], ["method": "subscribe", "result": "error"]])
        #expect(families[2].type == "histogram" && families[2].help == nil)
        #expect(families[2].samples.map(\.name) == ["mptcpctld_reconcile_seconds_bucket", "mptcpctld_reconcile_seconds_bucket",
                                                    "mptcpctld_reconcile_seconds_sum", "mptcpctld_reconcile_seconds_count"])
        #expect(families[3].type == "untyped" && families[3].samples.first?.value == 12.5)
        #expect(families[4].samples.first?.labels == ["reason": "say \"hi\"\nthere"])
        #expect(families[4].samples.first?.value.isNaN == true)
    }

    @Test func jsonCarriesEveryFieldAndSpellsNonFiniteValues() throws {
        let json = PrometheusText.json(try PrometheusText.parse(Self.text))
        let first = try #require(json.arrayValue?.first)
        #expect(first["name"] == "mptcpctld_subflows_failed_total")
        #expect(first["type"] == "counter")
        #expect(first["samples"] == [["name": "mptcpctld_subflows_failed_total", "labels": [:], "value": 0]])
        #expect(json.arrayValue?[2]["help"] == .null)
        #expect(json.arrayValue?[3]["samples"]?.arrayValue?.first?["value"] == .number(12.5))
        #expect(json.arrayValue?[4]["samples"]?.arrayValue?.first?["value"] == "NaN")
    }

    @Test(arguments: ["metric{label} 1", "metric{label=\"open 1", "metric", "{a=\"b\"} 1", "metric x"])
    func malformedLinesAreRefusedWithTheirNumber(_ line: String) {
        #expect(throws: PrometheusText.ParseError.self) { try PrometheusText.parse("# TYPE metric gauge\n" + line) }
    }
}
