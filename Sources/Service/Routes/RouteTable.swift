import Foundation
import HTTPServer
import Logging

/// Registers routes with the router, each with the access it needs declared at registration (there
/// is no default, so no route exists without one), wrapped so that the caller is authenticated
/// first, errors become problem+json with the right status, write and admin actions are audited,
/// and every request is counted in the metrics under its route pattern.
struct RouteTable {
    /// One registered route, in OpenAPI's `{param}` spelling: checked against openapi.json.
    struct Registration: Sendable {
        let method: String
        let path: String
        let access: RouteAccess
    }

    private(set) var router = HTTPRouter()
    private(set) var routes: [Registration] = []
    let metrics: ServiceMetrics
    let logger: Logger
    let authenticator: Authenticator
    let audit: AuditTrail
    /// Dashboard sessions: a signed-in browser may also GET read routes with its cookie.
    let sessions: DashboardSessions

    /// A change every error answer of a family of routes gets (the hub routes' `X-Error-Code`).
    typealias Refinement = @Sendable (HTTPError) -> HTTPError

    mutating func add(_ method: HTTPMethod, _ pattern: String, access: RouteAccess, maxBodyBytes: Int? = nil,
                      refine: Refinement? = nil,
                      _ body: @escaping @Sendable (HTTPRequest, Caller) async throws -> HTTPResponse) {
        add(method, pattern, access: access, maxBodyBytes: maxBodyBytes, immediate: nil, refine: refine, authorize: nil,
            render: nil, body)
    }

    /// Adds a dashboard page: its caller comes from the session cookie (`authorize`), and an error
    /// it throws is answered by `render` (an HTML page, or a redirect to sign in), not problem+json.
    mutating func addPage(_ method: HTTPMethod, _ pattern: String, access: RouteAccess, maxBodyBytes: Int? = nil,
                          authorize: @escaping @Sendable (HTTPRequest) async throws -> Caller,
                          render: @escaping @Sendable (any Error, HTTPRequest) -> HTTPResponse,
                          _ body: @escaping @Sendable (HTTPRequest, Caller) async throws -> HTTPResponse) {
        add(method, pattern, access: access, maxBodyBytes: maxBodyBytes, immediate: nil, refine: nil, authorize: authorize,
            render: render, body)
    }

    /// Adds an open route (a probe, the API description) that can answer without suspending: on the
    /// server's fast path `immediate` answers on the connection's queue, with no task (see
    /// `HTTPHandler.respondImmediately`), or returns nil having done nothing, and `body` answers.
    mutating func addOpen(_ method: HTTPMethod, _ pattern: String,
                          immediate: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse?,
                          _ body: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse) {
        add(method, pattern, access: .open, maxBodyBytes: nil, immediate: immediate, refine: nil, authorize: nil, render: nil) { request, _ in
            try await body(request)
        }
    }

    private mutating func add(_ method: HTTPMethod, _ pattern: String, access: RouteAccess, maxBodyBytes: Int?,
                              immediate: (@Sendable (HTTPRequest) throws -> HTTPResponse?)?, refine: Refinement?,
                              authorize: (@Sendable (HTTPRequest) async throws -> Caller)?,
                              render: (@Sendable (any Error, HTTPRequest) -> HTTPResponse)?,
                              _ body: @escaping @Sendable (HTTPRequest, Caller) async throws -> HTTPResponse) {
        routes.append(Registration(method: method.rawValue, path: Self.openAPIPath(pattern), access: access))
        let (metrics, logger, authenticator, audit, sessions) = (self.metrics, self.logger, self.authenticator, self.audit, self.sessions)
        let routeMetrics = metrics.route(pattern, method: method.rawValue)
        @Sendable func finish(_ request: HTTPRequest, _ response: HTTPResponse, since start: ContinuousClock.Instant) {
            routeMetrics.record(method: request.method.rawValue, status: response.status.code,
                                duration: ContinuousClock.now - start,
                                bytesIn: request.body.expectedLength ?? 0, bytesOut: response.body.declaredLength ?? 0)
        }
        let fast: @Sendable (HTTPRequest) throws -> HTTPResponse? = { original in
            guard let immediate else { return nil }
            let start = ContinuousClock.now
            let request = Self.joiningNamespace(original)
            let response: HTTPResponse
            do {
                guard let answered = try immediate(request) else { return nil }
                response = answered
            } catch {
                response = Self.problem(error, request: request, metrics: metrics, logger: logger, refine: refine)
            }
            finish(request, response, since: start)
            return response
        }
        router.add(method, pattern, maxBodyBytes: maxBodyBytes, ClosureHandler(immediate: fast) { original in
            let start = ContinuousClock.now
            let request = Self.joiningNamespace(original)
            var response: HTTPResponse
            var caller: Caller?
            do {
                let authorized = if let authorize { try await authorize(request) } else {
                    try await Self.authorize(request, access: access, authenticator: authenticator, sessions: sessions)
                }
                caller = authorized
                response = try await body(request, authorized)
            } catch {
                var thrown = error
                if let refusal = error as? Authenticator.ScopeRefusal {
                    caller = refusal.caller
                    thrown = refusal.error
                }
                if let render {
                    metrics.problem(ServiceError.http(thrown).type)
                    response = render(thrown, request)
                } else {
                    response = Self.problem(thrown, request: request, metrics: metrics, logger: logger, refine: refine)
                }
            }
            if let caller, AuditTrail.audits(request.method, access) {
                await audit.record(request, pattern: pattern, caller: caller, status: response.status.code,
                                   location: response.headers["Location"])
            }
            finish(request, response, since: start)
            return response
        })
    }

    /// The caller of an API request: its bearer token, or, for a GET or HEAD without one, a signed-in
    /// dashboard session's cookie (so the dashboard's links to downloads and JSON work in the browser).
    /// Every other method needs the bearer token: a cookie never changes anything through the API.
    static func authorize(_ request: HTTPRequest, access: RouteAccess, authenticator: Authenticator,
                          sessions: DashboardSessions) async throws -> Caller {
        if sessions.enabled, request.method == .get || request.method == .head,
           request.headers["Authorization"] == nil,
           let needed = access.neededScope(metricsNeedToken: authenticator.metricsNeedToken),
           request.cookie(DashboardSessions.cookieName(secure: request.isSecure)) != nil,
           let caller = try await sessions.visitor(request).caller, let scope = caller.scope {
            guard scope.includes(needed) else {
                throw Authenticator.ScopeRefusal(caller: caller, error: Authenticator.insufficientScope(needed, has: scope))
            }
            return caller
        }
        return try await authenticator.authorize(request, access: access)
    }

    /// The problem+json answer to an error a route threw, counted by type; a server error is logged
    /// (a refusal to overload, 503 and 507, and a client gone away are not server errors).
    static func problem(_ error: any Error, request: HTTPRequest, metrics: ServiceMetrics, logger: Logger,
                        refine: Refinement? = nil) -> HTTPResponse {
        var problem = SecretRedaction.redact(ServiceError.http(error))
        if let refine { problem = refine(problem) }
        metrics.problem(problem.type)
        if problem.status.code >= 500, problem.status.code != 503, problem.status.code != 507, !(error is CancellationError) {
            logger.error("\(request.method) \(SecretRedaction.redact(request.path)) failed: \(error)", metadata: ["request-id": "\(request.requestID)"])
        }
        return HTTPResponse.problem(problem, requestID: request.requestID)
    }

    /// Adds a route whose `:ref` (an adapter) or `:name` may be a namespaced name, twice: as given,
    /// and with that parameter as two segments (`/v1/adapters/:namespace/:ref/…`). The handler sees
    /// one parameter either way (`team-a/chat-v2`). The router gives a path to its most specific
    /// patterns, and `AdapterName.reservedLocalParts` keeps the words that follow a name from being
    /// a name's second part, so every path has one owner.
    mutating func addNamed(_ method: HTTPMethod, _ pattern: String, access: RouteAccess, maxBodyBytes: Int? = nil,
                           refine: Refinement? = nil,
                           _ body: @escaping @Sendable (HTTPRequest, Caller) async throws -> HTTPResponse) {
        add(method, pattern, access: access, maxBodyBytes: maxBodyBytes, refine: refine, body)
        add(method, Self.namespaced(pattern), access: access, maxBodyBytes: maxBodyBytes, refine: refine, body)
    }

    /// The parameters `addNamed` splits in two.
    static let namedParameters = ["ref", "name"]

    /// `/v1/adapters/:ref/spectrum` → `/v1/adapters/:namespace/:ref/spectrum`.
    static func namespaced(_ pattern: String) -> String {
        var segments = pattern.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if let index = segments.firstIndex(where: { namedParameters.contains(String($0.dropFirst())) && $0.hasPrefix(":") }) {
            segments.insert(":namespace", at: index)
        }
        return segments.joined(separator: "/")
    }

    /// The request with `namespace` and the named parameter joined back into one (`team-a/chat-v2`).
    static func joiningNamespace(_ request: HTTPRequest) -> HTTPRequest {
        guard let namespace = request.pathParameters["namespace"] else { return request }
        var joined = request
        joined.pathParameters["namespace"] = nil
        for key in namedParameters {
            if let local = joined.pathParameters[key] { joined.pathParameters[key] = namespace + "/" + local }
        }
        return joined
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
