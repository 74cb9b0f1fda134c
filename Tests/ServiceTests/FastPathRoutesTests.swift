import HTTPServer
import Service
import Testing
import TestSupport

/// Which routes answer on the server's fast path (on the connection's queue, without a task): the
/// probes and the API description, which a fleet calls most; never a route that needs a token.
@Suite("Routes on the fast path")
struct FastPathRoutesTests {
    private func request(_ target: String) -> HTTPRequest {
        HTTPRequest(head: HTTPRequestHead(method: .get, target: target,
                                          headers: ["Authorization": "Bearer \(ServiceHarness.adminToken)"]))
    }

    @Test("healthz and openapi.json answer at once, counted in the metrics; token routes and metrics go to a task")
    func which() async throws {
        try await ServiceHarness.with { s in
            let handler = s.service.makeHandler()
            let health = try handler.respondImmediately(to: request("/healthz"))
            #expect(health?.status.code == 200)
            #expect(try handler.respondImmediately(to: request("/openapi.json"))?.status.code == 200)
            for target in ["/v1/adapters", "/metrics", "/v1/tokens", "/v1/jobs/job_1", "/v1/audit"] {
                #expect(try handler.respondImmediately(to: request(target)) == nil, "\(target)")
            }
            // Unknown paths are answered at once too: the router's 404, thrown (the connection answers
            // a thrown HTTPError with its problem, as it does from a task).
            #expect { try handler.respondImmediately(to: request("/nowhere")) } throws: { error in
                (error as? HTTPError)?.status.code == 404
            }
            let metrics = try await s.metrics()
            #expect(metrics.value("lora_squeeze_http_requests_total", ["route": "/healthz", "method": "GET", "status": "200"]) == 1)
        }
    }

    @Test("readyz answers at once while its last proof stands (a second), and goes to a task for a new one")
    func readyz() async throws {
        try await ServiceHarness.with { s in
            let handler = s.service.makeHandler()
            let asked = ContinuousClock.now
            #expect(try await s.get("/readyz").status == 200)
            let fresh = try handler.respondImmediately(to: request("/readyz"))
            // The proof stands for a second from when it began; only a machine slower than that
            // (ThreadSanitizer's) may find it already due.
            if ContinuousClock.now - asked < .seconds(1) { #expect(fresh?.status.code == 200) }
            try await Task.sleep(for: .milliseconds(1_100))
            #expect(try handler.respondImmediately(to: request("/readyz")) == nil, "the proof is due again")
        }
    }
}
