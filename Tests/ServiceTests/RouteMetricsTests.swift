import HTTPServer
import Testing
@testable import Service

/// The per-route request metrics on atomics, checked against the general `MetricsRegistry` (the
/// lock-and-dictionary implementation they replace on the request path) fed the same requests.
@Suite("Request metrics on atomics")
struct RouteMetricsTests {
    /// (route, registered method, request method, status, seconds, bytes in, bytes out). The durations
    /// are whole nanoseconds and binary fractions, so both sums are exact and comparable.
    typealias Request = (String, String, String, Int, Double, Int, Int)

    static let requests: [Request] = [
        ("/v1/adapters", "POST", "POST", 201, 0.5, 1_000, 300),
        ("/v1/adapters", "POST", "POST", 201, 0.25, 2_000, 300),
        ("/v1/adapters", "POST", "POST", 415, 0.125, 0, 200),
        ("/v1/adapters", "GET", "GET", 200, 0.001953125, 0, 4_000),
        ("/v1/adapters", "GET", "HEAD", 200, 0.015625, 0, 4_000),
        ("/healthz", "GET", "GET", 200, 0.001953125, 0, 15),
        ("/healthz", "GET", "GET", 503, 2, 0, 0),
        ("/v1/jobs/:id", "GET", "GET", 404, 64, 0, 120),
    ]

    @Test("the exposition equals the registry's for the same requests, line for line")
    func sameAsRegistry() {
        let metrics = ServiceMetrics()
        let reference = MetricsRegistry()
        reference.describeCounter("lora_squeeze_http_requests_total", "HTTP requests by route, method and status.",
                                  labels: ["route", "method", "status"])
        reference.describeHistogram("lora_squeeze_http_request_duration_seconds", "HTTP request latency by route.",
                                    labels: ["route"])
        reference.describeCounter("lora_squeeze_http_request_bytes_total", "Request body bytes received.", labels: ["route"])
        reference.describeCounter("lora_squeeze_http_response_bytes_total", "Response body bytes sent (declared lengths).",
                                  labels: ["route"])
        for (route, registered, method, status, seconds, bytesIn, bytesOut) in Self.requests {
            metrics.route(route, method: registered).record(method: method, status: status, duration: .seconds(seconds),
                                                           bytesIn: bytesIn, bytesOut: bytesOut)
            reference.increment("lora_squeeze_http_requests_total", labels: [route, method, String(status)])
            reference.observe("lora_squeeze_http_request_duration_seconds", seconds, labels: [route])
            if bytesIn > 0 { reference.increment("lora_squeeze_http_request_bytes_total", by: Double(bytesIn), labels: [route]) }
            if bytesOut > 0 { reference.increment("lora_squeeze_http_response_bytes_total", by: Double(bytesOut), labels: [route]) }
        }
        let ours = metrics.renderRequests().split(separator: "\n").sorted()
        let theirs = reference.render(gauges: []).split(separator: "\n").sorted()
        #expect(ours == theirs)
        #expect(ours.contains(#"lora_squeeze_http_requests_total{route="/v1/adapters",method="HEAD",status="200"} 1"#))
    }

    @Test("bucket edges: a duration equal to a bound counts in it, the next nanosecond in the next; past the last, +Inf")
    func bucketEdges() {
        let metrics = RouteMetrics(route: "/x", method: "GET")
        metrics.record(method: "GET", status: 200, duration: .milliseconds(1), bytesIn: 0, bytesOut: 0)
        metrics.record(method: "GET", status: 200, duration: .milliseconds(1) + .nanoseconds(1), bytesIn: 0, bytesOut: 0)
        metrics.record(method: "GET", status: 200, duration: .seconds(30), bytesIn: 0, bytesOut: 0)
        metrics.record(method: "GET", status: 200, duration: .seconds(30) + .nanoseconds(1), bytesIn: 0, bytesOut: 0)
        metrics.record(method: "GET", status: 200, duration: .seconds(-1), bytesIn: 0, bytesOut: 0)
        let buckets = metrics.read().buckets
        #expect(buckets.count == RouteMetrics.bounds.count + 1)
        #expect(buckets[0] == 2, "1 ms and a negative duration (counted as 0)")
        #expect(buckets[1] == 1)
        #expect(buckets[RouteMetrics.bounds.count - 1] == 1, "exactly 30 s")
        #expect(buckets[RouteMetrics.bounds.count] == 1, "past 30 s: +Inf")
    }

    @Test("statuses at the range's edges count as themselves; outside it, as 500")
    func statusEdges() {
        let metrics = RouteMetrics(route: "/x", method: "POST")
        for status in [100, 599, 99, 600, -1, Int.max] {
            metrics.record(method: "POST", status: status, duration: .zero, bytesIn: 0, bytesOut: 0)
        }
        let counts = Dictionary(uniqueKeysWithValues: metrics.read().requests.map { ($0.status, $0.count) })
        #expect(counts == [100: 1, 599: 1, 500: 4])
    }

    @Test("8 threads × 20,000 requests: every one counted")
    func concurrent() async {
        let metrics = RouteMetrics(route: "/x", method: "GET")
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    for _ in 0..<20_000 {
                        metrics.record(method: t.isMultiple(of: 2) ? "GET" : "HEAD", status: 200 + t,
                                       duration: .microseconds(10), bytesIn: 1, bytesOut: 2)
                    }
                }
            }
        }
        let reading = metrics.read()
        #expect(reading.count == 160_000)
        #expect(reading.requests.count == 8)
        #expect(reading.requests.allSatisfy { $0.count == 20_000 })
        #expect(reading.bytesIn == 160_000 && reading.bytesOut == 320_000)
    }

    @Test("the same route registered again (a route table built twice) shares one counter set")
    func registeredTwice() {
        let metrics = ServiceMetrics()
        metrics.route("/a", method: "GET").record(method: "GET", status: 200, duration: .zero, bytesIn: 0, bytesOut: 0)
        metrics.route("/a", method: "GET").record(method: "GET", status: 200, duration: .zero, bytesIn: 0, bytesOut: 0)
        #expect(metrics.renderRequests().contains(#"lora_squeeze_http_requests_total{route="/a",method="GET",status="200"} 2"#))
    }
}
