import Foundation
import MPTCPAPI
import Testing

/// The daemon's metrics text: complete (HELP, TYPE, declared series at 0) and
/// deterministic whatever order the registry writes.
@Suite struct PrometheusTextTests {
    let declared = [
        MetricFamily("b_requests_total", .counter, "Requests, by method and result.", labels: ["method", "result"],
                     series: [["status", "ok"], ["metrics", "ok"]]),
        MetricFamily("a_failed_total", .counter, "Failures."),
        MetricFamily("c_up", .gauge, "Up."),
    ]

    @Test func everyDeclaredFamilyHasHelpTypeAndItsSeriesAtZeroBeforeAnythingHappened() {
        #expect(PrometheusText.normalised("", families: declared) == """
            # HELP a_failed_total Failures.
            # TYPE a_failed_total counter
            a_failed_total 0
            # HELP b_requests_total Requests, by method and result.
            # TYPE b_requests_total counter
            b_requests_total{method="metrics",result="ok"} 0
            b_requests_total{method="status",result="ok"} 0
            # HELP c_up Up.
            # TYPE c_up gauge
            c_up 0

            """)
    }

    @Test func theOutputDoesNotDependOnTheOrderTheRegistryWrites() {
        let families = [
            "# TYPE c_up gauge\nc_up 1\n",
            "# TYPE b_requests_total counter\nb_requests_total{method=\"status\",result=\"ok\"} 3\nb_requests_total{method=\"metrics\",result=\"ok\"} 2\nb_requests_total{result=\"invalid_params\",method=\"status\"} 1\n",
            "# TYPE a_failed_total counter\na_failed_total 5\n",
            "# TYPE z_other counter\nz_other{x=\"1\"} 4\nz_other{x=\"0\"} 4\n",
        ]
        let expected = """
            # HELP a_failed_total Failures.
            # TYPE a_failed_total counter
            a_failed_total 5
            # HELP b_requests_total Requests, by method and result.
            # TYPE b_requests_total counter
            b_requests_total{method="metrics",result="ok"} 2
            b_requests_total{method="status",result="invalid_params"} 1
            b_requests_total{method="status",result="ok"} 3
            # HELP c_up Up.
            # TYPE c_up gauge
            c_up 1
            # HELP z_other mptcpctld metric z_other (undescribed)
            # TYPE z_other counter
            z_other{x="0"} 4
            z_other{x="1"} 4

            """
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]] {
            var text = order.map { families[$0] }.joined()
            // The registry also reorders series within a family.
            text = text.replacingOccurrences(of: "z_other{x=\"1\"} 4\nz_other{x=\"0\"} 4", with: order[0] == 3
                ? "z_other{x=\"0\"} 4\nz_other{x=\"1\"} 4" : "z_other{x=\"1\"} 4\nz_other{x=\"0\"} 4")
            #expect(PrometheusText.normalised(text, families: declared) == expected, "order \(order)")
        }
    }

    @Test func labelsFollowTheDeclaredOrderAndTheSameSeriesInAnotherOrderIsAddedUp() {
        let text = """
            # TYPE b_requests_total counter
            b_requests_total{result="ok",method="status"} 2
            b_requests_total{method="status",result="ok"} 3

            """
        #expect(PrometheusText.normalised(text, families: declared).contains("b_requests_total{method=\"status\",result=\"ok\"} 5\n"))
    }

    @Test func escapedLabelValuesAndHelpTextSurvive() {
        let odd = [MetricFamily("d_total", .counter, "Back\\slash\nand newline.", labels: ["name"], series: [["a \"q\" \\ b"]])]
        let text = "# TYPE d_total counter\nd_total{name=\"x,y=\\\"z\\\"}\"} 1\n"
        #expect(PrometheusText.normalised(text, families: odd) == """
            # HELP d_total Back\\\\slash\\nand newline.
            # TYPE d_total counter
            d_total{name="a \\"q\\" \\\\ b"} 0
            d_total{name="x,y=\\"z\\"}"} 1

            """)
    }

    @Test func histogramBucketsKeepTheirOrder() {
        let text = """
            # TYPE h histogram
            h_bucket{le="0.5",op="x"} 1
            h_bucket{le="10",op="x"} 2
            h_bucket{le="+Inf",op="x"} 3
            h_sum{op="x"} 7.5
            h_count{op="x"} 3

            """
        #expect(PrometheusText.normalised(text, families: []) == """
            # HELP h mptcpctld metric h (undescribed)
            # TYPE h histogram
            h_bucket{op="x",le="0.5"} 1
            h_bucket{op="x",le="10"} 2
            h_bucket{op="x",le="+Inf"} 3
            h_count{op="x"} 3
            h_sum{op="x"} 7.5

            """)
    }

    @Test func everyDaemonFamilyIsDescribedAndNamedOnce() {
        let families = DaemonMetrics.families(methods: ["status", "metrics"])
        #expect(Set(families.map(\.name)).count == families.count)
        #expect(families.map(\.name) == families.map(\.name).sorted())
        for f in families {
            #expect(!f.help.isEmpty && f.help.hasSuffix("."), "\(f.name)")
            #expect((f.type == .counter) == f.name.hasSuffix("_total"), "\(f.name)")
            // Per-path families exist once a path is judged (DaemonMetrics.perPathFamilies); every other from start-up.
            #expect((!f.series.isEmpty || DaemonMetrics.perPathFamilies.contains(f.name)) && f.series.allSatisfy { $0.count == f.labels.count },
                    "\(f.name) exists from start-up")
        }
        let requests = families.first { $0.name == "mptcpctld_api_requests_total" }
        #expect(requests?.series == [["metrics", "ok"], ["status", "ok"]])
        #expect(families.first { $0.name == "mptcpctld_kernel_events_total" }?.series.contains(["sub_closed"]) == true)
        #expect(families.contains { $0.name == "mptcpctld_pm_subflows_failed_total" })
        #expect(DaemonMetrics.perPathFamilies.allSatisfy { name in families.contains { $0.name == name && $0.labels.starts(with: ["interface", "family"]) } })
    }
}
