import Foundation
import HTTPServer

extension AdapterService {
    func addOperationsRoutes(_ t: inout RouteTable) {
        t.add(.get, "/healthz", access: .open) { _, _ in .json("{\"status\":\"ok\"}") }

        t.add(.get, "/readyz", access: .open) { [self] _, _ in
            if isDraining {
                return .json("{\"status\":\"draining\"}", status: .serviceUnavailable)
            }
            // Proves the catalog and the blob store take writes — at most once a second, on the catalog's
            // write thread, however many probes arrive.
            if let failure = await readiness.failure({ try await store.write { try $0.checkWritable() } }) {
                logger.error("readyz: \(failure)")
                return .json(try JSONBody.encode(["status": "unavailable", "detail": failure]), status: .serviceUnavailable)
            }
            guard configuration.access.enabled else {
                return .json(try JSONBody.encode(["status": "ready",
                                                  "warning": "authentication is off (--auth off): every request is allowed"]))
            }
            return .json("{\"status\":\"ready\"}")
        }

        t.add(.get, "/metrics", access: .metrics) { [self] _, _ in
            let statistics = try await store.read { try $0.statistics() }
            let text = metrics.render(statistics: statistics,
                                      openConnections: servers.withLock { $0.reduce(0) { $0 + $1.connectionCount } },
                                      squeezesInFlight: flights.inFlightCount,
                                      squeezesWaiting: admission.waitingByClient.values.reduce(0, +),
                                      computeQueued: pool.queuedCount)
            return .bytes(Array(text.utf8), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }

        t.add(.get, "/openapi.json", access: .open) { _, _ in
            .bytes(PackageResources.openapi_json, contentType: "application/json")
        }
    }
}
