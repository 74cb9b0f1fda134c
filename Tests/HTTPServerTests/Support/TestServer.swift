import Foundation
import Logging
@testable import HTTPServer

/// Small limits for loopback tests: timeouts short enough to test, long enough for a busy machine.
func testLimits() -> HTTPLimits {
    var limits = HTTPLimits()
    limits.headerTimeout = .seconds(2)
    limits.bodyIdleTimeout = .seconds(2)
    limits.keepAliveIdleTimeout = .seconds(3)
    limits.handlerTimeout = .seconds(5)
    limits.lingerTimeout = .milliseconds(500)
    return limits
}

/// The routes most loopback tests use.
func testRouter() -> HTTPRouter {
    var router = HTTPRouter()
    router.add(.get, "/hello") { _ in .text("hello") }
    router.add(.post, "/echo") { request in
        .bytes(try await request.body.collect(upTo: 8 << 20), contentType: "application/octet-stream")
    }
    router.add(.post, "/upload", maxBodyBytes: 10) { request in
        .text("\(try await request.body.collect(upTo: .max).count)")
    }
    router.add(.post, "/ignore-body") { _ in .text("ignored") }
    router.add(.get, "/users/:id/items/:item") { request in
        .text("\(request.pathParameters["id"] ?? "-")/\(request.pathParameters["item"] ?? "-")")
    }
    router.add(.delete, "/users/:id/items/:item") { _ in .status(.noContent) }
    router.add(.get, "/sleep") { request in
        let ms = Int(request.queryValue("ms") ?? "0") ?? 0
        try await Task.sleep(for: .milliseconds(ms))
        return .text("slept \(ms)")
    }
    router.add(.get, "/stream") { request in
        let count = Int(request.queryValue("n") ?? "3") ?? 3
        return .stream(contentType: "text/plain") { writer in
            for i in 0..<count { try await writer.write("part \(i)\n") }
        }
    }
    router.add(.get, "/fail") { _ in throw CocoaError(.fileNoSuchFile) }
    router.add(.get, "/request-id") { request in .text(request.requestID) }
    return router
}

/// Silent unless HTTP_TEST_LOG names a level (e.g. HTTP_TEST_LOG=debug), then to standard error.
func testLogger() -> Logger {
    guard let name = ProcessInfo.processInfo.environment["HTTP_TEST_LOG"], let level = Logger.Level(rawValue: name) else {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }
    var logger = Logger(label: "test") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = level
    return logger
}

/// Starts a server on an ephemeral loopback port, runs `body`, and shuts the server down.
func withServer<T: Sendable>(handler: some HTTPHandler = testRouter(), limits: HTTPLimits = testLimits(),
                             address: SocketAddress = .loopbackIPv4(port: 0),
                             _ body: (HTTPServer, SocketAddress) async throws -> T) async throws -> T {
    let server = HTTPServer(configuration: .init(address: address, limits: limits), handler: handler, logger: testLogger())
    let bound = try server.start()
    do {
        let result = try await body(server, bound)
        await server.shutdown(deadline: .seconds(2))
        return result
    } catch {
        await server.shutdown(deadline: .seconds(2))
        throw error
    }
}

/// Sends `raw` on a new connection and reads one response.
func roundTrip(_ address: SocketAddress, _ raw: String) async throws -> TestResponse {
    try await blocking {
        let client = try TestClient(address)
        try client.send(raw)
        guard let response = try client.readResponse() else { throw TestClientError.closedBeforeResponse }
        return response
    }
}
