import Foundation
import HTTPServer
import Logging

/// Registers routes with the router, each wrapped so that errors become problem+json with the
/// right status and every request is counted in the metrics under its route pattern.
struct RouteTable {
    private(set) var router = HTTPRouter()
    /// Every (method, pattern) registered, in OpenAPI's `{param}` spelling: checked against openapi.json.
    private(set) var routes: [(method: String, path: String)] = []
    let metrics: ServiceMetrics
    let logger: Logger

    mutating func add(_ method: HTTPMethod, _ pattern: String, maxBodyBytes: Int? = nil,
                      _ body: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse) {
        routes.append((method.rawValue, Self.openAPIPath(pattern)))
        let (metrics, logger) = (self.metrics, self.logger)
        router.add(method, pattern, maxBodyBytes: maxBodyBytes) { request in
            let start = ContinuousClock.now
            var response: HTTPResponse
            do {
                response = try await body(request)
            } catch {
                let problem = ServiceError.http(error)
                metrics.problem(problem.type)
                if problem.status.code >= 500, problem.status.code != 503, problem.status.code != 507, !(error is CancellationError) {
                    logger.error("\(request.method) \(request.path) failed: \(error)", metadata: ["request-id": "\(request.requestID)"])
                }
                response = HTTPResponse.problem(problem, requestID: request.requestID)
            }
            metrics.request(route: pattern, method: request.method.rawValue, status: response.status.code,
                            seconds: (ContinuousClock.now - start).seconds,
                            bytesIn: request.body.expectedLength ?? 0, bytesOut: response.body.declaredLength ?? 0)
            return response
        }
    }

    /// `/v1/adapters/:ref` → `/v1/adapters/{ref}`.
    static func openAPIPath(_ pattern: String) -> String {
        pattern.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
        }.joined(separator: "/")
    }
}

extension HTTPResponseBody {
    var declaredLength: Int? {
        switch self {
        case .empty: 0
        case let .bytes(b): b.count
        case let .stream(length, _): length
        case let .file(_, _, length): length
        }
    }
}
