import Foundation
import Logging
import Testing
@testable import HTTPServer

@Suite("Routing and response helpers")
struct HTTPRouterTests {
    func request(_ method: HTTPMethod, _ target: String) -> HTTPRequest {
        HTTPRequest(head: HTTPRequestHead(method: method, target: target))
    }

    @Test("patterns match literals, parameters and a trailing rest", arguments: [
        ("/a/:id", "/a/42", ["id": "42"]),
        ("/a/:id", "/a/4%2F2", ["id": "4/2"]),
        ("/a/:id", "/a/42/b", nil),
        ("/a/:id", "/a", nil),
        ("/files/*", "/files/x/y.bin", ["*": "x/y.bin"]),
        ("/", "/", [:]),
        ("/a/b", "/a/b/", [:]),
        ("/a/:id", "/a/%zz", nil),
    ] as [(String, String, [String: String]?)])
    func patterns(_ pattern: String, _ path: String, _ expected: [String: String]?) {
        #expect(RoutePattern(pattern).match(path) == expected)
    }

    @Test("a path belongs to its most specific patterns only: their handlers and their Allow")
    func specificity() async throws {
        var router = HTTPRouter()
        router.add(.get, "/a/:ref/squeezed/:rank/:file") { _ in .text("file") }
        router.add(.put, "/a/:ref/squeezed/:rank/pin") { _ in .text("pin") }
        router.add(.delete, "/a/:ref/squeezed/:rank/pin") { _ in .text("unpin") }
        await #expect(throws: HTTPError.methodNotAllowed(.get, path: "/a/x/squeezed/4/pin", allowed: [.put, .delete])) {
            try await router.handle(request(.get, "/a/x/squeezed/4/pin"))
        }
        #expect(try await router.handle(request(.put, "/a/x/squeezed/4/pin")).status == .ok)
        #expect(try await router.handle(request(.get, "/a/x/squeezed/4/adapter_model.safetensors")).status == .ok)
        #expect(RoutePattern("/a/:b/pin").isMoreSpecific(than: RoutePattern("/a/:b/:c")))
        #expect(!RoutePattern("/a/:b/:c").isMoreSpecific(than: RoutePattern("/a/:b/pin")))
        #expect(RoutePattern("/a/:b").isMoreSpecific(than: RoutePattern("/a/*")))
        #expect(!RoutePattern("/a/:b").isMoreSpecific(than: RoutePattern("/a/:c")), "equal patterns: neither")
    }

    @Test("405 lists the allowed methods with HEAD for GET; 404 otherwise; HEAD runs GET")
    func methods() async throws {
        var router = HTTPRouter()
        router.add(.get, "/r") { _ in .text("get") }
        router.add(.post, "/r") { _ in .text("post") }
        await #expect(throws: HTTPError.methodNotAllowed(.delete, path: "/r", allowed: [.get, .post, .head])) {
            try await router.handle(request(.delete, "/r"))
        }
        await #expect(throws: HTTPError.notFound("no resource at /s")) {
            try await router.handle(request(.get, "/s"))
        }
        let head = try await router.handle(request(.head, "/r"))
        #expect(head.status == .ok)
    }

    @Test("single byte ranges (RFC 9110 §14.1.2)", arguments: [
        ("bytes=0-0", 10, ByteRange.Selection.partial(0, 0)),
        ("bytes=9-", 10, .partial(9, 9)),
        ("bytes=10-", 10, .unsatisfiable),
        ("bytes=-20", 10, .partial(0, 9)),
        ("bytes=-0", 10, .unsatisfiable),
        ("bytes=0-", 0, .unsatisfiable),
        ("bytes=1-2,4-5", 10, .whole),
        ("bytes=a-b", 10, .whole),
        ("bytes=5-4", 10, .whole),
        ("BYTES = 2-3", 10, .partial(2, 3)),
    ] as [(String, Int, ByteRange.Selection)])
    func byteRanges(_ header: String, _ size: Int, _ expected: ByteRange.Selection) {
        #expect(ByteRange.select(header, size: size) == expected)
    }

    @Test("ETag comparison: weak for If-None-Match, strong for If-Range")
    func etags() {
        #expect(ETag.anyMatches("W/\"a\"", "\"a\"", weak: true))
        #expect(!ETag.anyMatches("W/\"a\"", "\"a\"", weak: false))
        #expect(ETag.anyMatches("\"x\", \"a\"", "\"a\"", weak: false))
        #expect(ETag.anyMatches("*", "\"a\"", weak: true))
    }

    @Test("problem+json escapes and carries status, type, detail and request id")
    func problem() throws {
        let response = HTTPResponse.problem(.badRequest("a \"quoted\"\nline\u{1}"), requestID: "rid")
        guard case .bytes(let bytes) = response.body else { Issue.record("no body"); return }
        #expect(String(decoding: bytes, as: UTF8.self)
                == #"{"type":"/problems/bad-request","title":"Bad Request","status":400,"detail":"a \"quoted\"\nline\u0001","requestId":"rid"}"#)
        #expect(response.headers["Content-Type"] == "application/problem+json")
        #expect(response.headers["X-Request-Id"] == "rid")
    }

    @Test("response field values cannot split a response")
    func sanitized() {
        #expect(ResponseEncoder.sanitized("a\r\nSet-Cookie: x") == "a Set-Cookie: x")
    }

    @Test("Date is an IMF-fixdate")
    func date() {
        #expect(HTTPDate.format(epochSeconds: 784111777) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }

    @Test("middleware: timing adds Server-Timing; the access log sees errors and rethrows them")
    func middleware() async throws {
        var router = HTTPRouter()
        router.add(.get, "/ok") { _ in .text("ok") }
        let handler = router.with(TimingMiddleware()).with(AccessLogMiddleware(logger: .init(label: "test")))
        let ok = try await handler.handle(request(.get, "/ok"))
        #expect(ok.headers["Server-Timing"]?.hasPrefix("app;dur=") == true)
        await #expect(throws: HTTPError.self) { try await handler.handle(request(.get, "/missing")) }
    }

    @Test("the access log writes the path as `redact` rewrites it, for answers and for errors")
    func accessLogRedacts() async throws {
        final class Lines: @unchecked Sendable {
            let lock = NSLock()
            var messages: [String] = []
            func add(_ m: String) { lock.lock(); messages.append(m); lock.unlock() }
        }
        struct Capture: LogHandler {
            let lines: Lines
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace
            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }
            func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
                     file: String, function: String, line: UInt) {
                lines.add("\(message) \(metadata?["path"].map { "\($0)" } ?? "")")
            }
        }
        let lines = Lines()
        var router = HTTPRouter()
        router.add(.get, "/ok/:x") { _ in .text("ok") }
        let logger = Logger(label: "test") { _ in Capture(lines: lines) }
        let handler = router.with(AccessLogMiddleware(logger: logger, redact: { $0.replacingOccurrences(of: "secret", with: "[x]") }))
        _ = try await handler.handle(request(.get, "/ok/secret"))
        await #expect(throws: HTTPError.self) { try await handler.handle(request(.get, "/missing/secret")) }
        #expect(lines.messages.count == 2)
        #expect(lines.messages.allSatisfy { !$0.contains("secret") && $0.contains("[x]") }, "\(lines.messages)")
    }
}
