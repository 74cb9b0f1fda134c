import Foundation
import HTTPServer

extension AdapterService {
    func addOperationsRoutes(_ t: inout RouteTable) {
        // Probes and the API description answer on the server's fast path (no task): they are what a
        // fleet's kubelets and load balancers call most.
        let healthy = HTTPResponse.json("{\"status\":\"ok\"}")
        t.addOpen(.get, "/healthz", immediate: { _ in healthy }) { _ in healthy }

        t.addOpen(.get, "/readyz", immediate: { [self] _ in
            // At once while draining, or while the last proof is fresh; otherwise the proof is due.
            if isDraining { return try readyAnswer(failure: nil) }
            return try readiness.recent().map { try readyAnswer(failure: $0.failure) }
        }) { [self] _ in
            if isDraining { return try readyAnswer(failure: nil) }
            // Proves the catalog and the blob store take writes — at most once a second, on the catalog's
            // write thread, however many probes arrive.
            let failure = await readiness.failure({ try await store.write { try $0.checkWritable() } })
            if let failure { logger.error("readyz: not ready", metadata: ["cause": "\(failure.cause)"]) }
            return try readyAnswer(failure: failure)
        }

        t.add(.get, "/metrics", access: .metrics) { [self] _, _ in
            let statistics = try await store.read { try $0.statistics() }
            let text = metrics.render(statistics: statistics,
                                      openConnections: servers.withLock { $0.reduce(0) { $0 + $1.connectionCount } },
                                      squeezesInFlight: flights.inFlightCount,
                                      squeezesWaiting: admission.waitingByClient.values.reduce(0, +),
                                      computeQueued: pool.queuedCount,
                                      kernelTLSConnections: tlsContext.withLock { $0?.kernelTLSConnections ?? 0 },
                                      replica: configuration.replicaID,
                                      catalog: configuration.catalog.isShared ? "postgresql" : "sqlite")
            return .bytes(Array(text.utf8), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }

        let description = HTTPResponse.bytes(PackageResources.openapi_json, contentType: "application/json")
        t.addOpen(.get, "/openapi.json", immediate: { _ in description }) { _ in description }
    }

    /// `/readyz`'s answer: draining, unavailable (with why), or ready (with a warning when auth is off).
    private func readyAnswer(failure: ReadinessCheck.Failure?) throws -> HTTPResponse {
        if isDraining {
            return .json("{\"status\":\"draining\"}", status: .serviceUnavailable)
        }
        if let failure {
            return .json(try JSONBody.encode(["status": "unavailable", "detail": failure.detail]), status: .serviceUnavailable)
        }
        guard configuration.access.enabled else {
            return .json(try JSONBody.encode(["status": "ready",
                                                "warning": "authentication is off (--auth off): every request is allowed"]))
        }
        return .json("{\"status\":\"ready\"}")
    }
}
