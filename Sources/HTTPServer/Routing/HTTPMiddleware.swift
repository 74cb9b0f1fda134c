/// Wraps a handler: sees each request before it and each response (or error) after it.
///
/// A middleware that does nothing that can suspend also implements `respondImmediately(to:next:)`,
/// so that the handlers behind it keep their fast path (see `HTTPHandler`); the default returns nil,
/// which sends every request through `handle` — correct, only slower.
public protocol HTTPMiddleware: Sendable {
    func handle(_ request: HTTPRequest, next: any HTTPHandler) async throws -> HTTPResponse
    func respondImmediately(to request: HTTPRequest, next: any HTTPHandler) throws -> HTTPResponse?
}

extension HTTPMiddleware {
    public func respondImmediately(to request: HTTPRequest, next: any HTTPHandler) throws -> HTTPResponse? { nil }
}

/// A handler behind a middleware.
public struct MiddlewareHandler: HTTPHandler {
    let middleware: any HTTPMiddleware
    let next: any HTTPHandler

    public func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await middleware.handle(request, next: next)
    }

    public func respondImmediately(to request: HTTPRequest) throws -> HTTPResponse? {
        try middleware.respondImmediately(to: request, next: next)
    }
}

extension HTTPHandler {
    /// This handler behind `middleware`: `router.with(TimingMiddleware()).with(AccessLogMiddleware(logger:))`
    /// runs the access log outermost.
    public func with(_ middleware: some HTTPMiddleware) -> MiddlewareHandler {
        MiddlewareHandler(middleware: middleware, next: self)
    }
}
