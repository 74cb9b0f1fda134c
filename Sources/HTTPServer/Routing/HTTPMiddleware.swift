/// Wraps a handler: sees each request before it and each response (or error) after it.
public protocol HTTPMiddleware: Sendable {
    func handle(_ request: HTTPRequest, next: any HTTPHandler) async throws -> HTTPResponse
}

/// A handler behind a middleware.
public struct MiddlewareHandler: HTTPHandler {
    let middleware: any HTTPMiddleware
    let next: any HTTPHandler

    public func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await middleware.handle(request, next: next)
    }
}

extension HTTPHandler {
    /// This handler behind `middleware`: `router.with(TimingMiddleware()).with(AccessLogMiddleware(logger:))`
    /// runs the access log outermost.
    public func with(_ middleware: some HTTPMiddleware) -> MiddlewareHandler {
        MiddlewareHandler(middleware: middleware, next: self)
    }
}
