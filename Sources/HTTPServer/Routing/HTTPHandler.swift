/// Answers requests. The one extension point of the server: routers, middleware chains and
/// plain closures all conform.
///
/// Two ways in. `handle` is the general one: the server runs it in a task, so it may suspend (read
/// the body, wait for a database, compute). `respondImmediately` is the fast path: the server calls
/// it first, on the connection's own queue, for requests without a body; a handler that can answer
/// at once without suspending or blocking (a probe, a constant, a counter, an open file) returns the
/// response and the request costs no task and no thread hop. It returns nil when the request needs
/// `handle` — and then it must have done nothing a client or a log could observe, because `handle`
/// runs next for the same request. The default is nil: every handler is correct without it.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest) async throws -> HTTPResponse
    func respondImmediately(to request: HTTPRequest) throws -> HTTPResponse?
}

extension HTTPHandler {
    public func respondImmediately(to request: HTTPRequest) throws -> HTTPResponse? { nil }
}

/// A handler from a closure: an async one, or a synchronous one that also serves the fast path.
public struct ClosureHandler: HTTPHandler {
    let body: @Sendable (HTTPRequest) async throws -> HTTPResponse
    let immediate: (@Sendable (HTTPRequest) throws -> HTTPResponse?)?

    public init(_ body: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse) {
        self.body = body
        self.immediate = nil
    }

    /// A handler that never suspends: `body` answers on the fast path and in `handle` alike.
    public init(immediately body: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse) {
        self.body = { try body($0) }
        self.immediate = { try body($0) }
    }

    /// A handler that answers at once when it can (`immediate` returns a response) and otherwise
    /// through `body` (`immediate` returned nil, having done nothing).
    public init(immediate: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse?,
                _ body: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse) {
        self.body = body
        self.immediate = immediate
    }

    public func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await body(request)
    }

    public func respondImmediately(to request: HTTPRequest) throws -> HTTPResponse? {
        try immediate?(request)
    }
}
