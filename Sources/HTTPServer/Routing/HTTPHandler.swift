/// Answers requests. The one extension point of the server: routers, middleware chains and
/// plain closures all conform.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest) async throws -> HTTPResponse
}

/// A handler from a closure.
public struct ClosureHandler: HTTPHandler {
    let body: @Sendable (HTTPRequest) async throws -> HTTPResponse

    public init(_ body: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse) {
        self.body = body
    }

    public func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await body(request)
    }
}
