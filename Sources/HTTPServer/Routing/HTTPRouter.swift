/// Routes requests by method and path pattern. No matching path → 404; a matching path without the
/// method → 405 with `Allow` (RFC 9110 §15.5.6). GET routes also answer HEAD (RFC 9110 §9.3.2); the
/// server drops the body. When several patterns match a path, only the most specific ones own it
/// (`RoutePattern.isMoreSpecific`): `/x/:id/pin` is not also a `/x/:id/:file`.
public struct HTTPRouter: HTTPHandler {
    struct Route: Sendable {
        var method: HTTPMethod
        var pattern: RoutePattern
        var maxBodyBytes: Int?
        var handler: any HTTPHandler
    }

    private var routes: [Route] = []

    public init() {}

    /// Adds a route. `maxBodyBytes` limits the request body: a larger Content-Length gets 413 before
    /// the handler runs, and a chunked body fails with 413 once it grows past it.
    public mutating func add(_ method: HTTPMethod, _ pattern: String, maxBodyBytes: Int? = nil,
                             _ handler: some HTTPHandler) {
        routes.append(Route(method: method, pattern: RoutePattern(pattern), maxBodyBytes: maxBodyBytes,
                            handler: handler))
    }

    /// Adds a route answered by a closure.
    public mutating func add(_ method: HTTPMethod, _ pattern: String, maxBodyBytes: Int? = nil,
                             _ body: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse) {
        add(method, pattern, maxBodyBytes: maxBodyBytes, ClosureHandler(body))
    }

    /// Adds a route answered by a synchronous closure, which also serves the server's fast path
    /// (see `HTTPHandler.respondImmediately`).
    public mutating func add(_ method: HTTPMethod, _ pattern: String, maxBodyBytes: Int? = nil,
                             immediately body: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse) {
        add(method, pattern, maxBodyBytes: maxBodyBytes, ClosureHandler(immediately: body))
    }

    public func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        let (handler, routed) = try route(request)
        return try await handler.handle(routed)
    }

    public func respondImmediately(to request: HTTPRequest) throws -> HTTPResponse? {
        let (handler, routed) = try route(request)
        return try handler.respondImmediately(to: routed)
    }

    /// The handler that owns `request` and the request as it sees it (path parameters set, body
    /// limited), or the 404, 405 or 413 to answer.
    func route(_ request: HTTPRequest) throws -> (any HTTPHandler, HTTPRequest) {
        let path = request.path
        var allowed: [HTTPMethod] = []
        let split = RoutePath(path)   // split and decoded once, not once per route
        var matching: [(Route, [String: String])] = []
        for index in routes.indices where routes[index].pattern.admits(segmentCount: split.count) {
            if let parameters = routes[index].pattern.match(split) { matching.append((routes[index], parameters)) }
        }
        let owners = matching.filter { candidate in
            !matching.contains { $0.0.pattern.isMoreSpecific(than: candidate.0.pattern) }
        }
        for (route, parameters) in owners {
            let matchesMethod = route.method == request.method
                || (request.method == .head && route.method == .get
                    && !routes.contains { $0.method == .head && $0.pattern == route.pattern })
            guard matchesMethod else {
                allowed.append(route.method)
                continue
            }
            var request = request
            request.pathParameters = parameters
            if let limit = route.maxBodyBytes {
                if let length = request.head.contentLength, length > limit {
                    throw HTTPError.contentTooLarge(limit: limit)
                }
                request.body = request.body.limited(to: limit)
            }
            return (route.handler, request)
        }
        guard !allowed.isEmpty else { throw HTTPError.notFound("no resource at \(path)") }
        if allowed.contains(.get), !allowed.contains(.head) { allowed.append(.head) }
        var unique: [HTTPMethod] = []
        for method in allowed where !unique.contains(method) { unique.append(method) }
        throw HTTPError.methodNotAllowed(request.method, path: path, allowed: unique)
    }
}
