import Foundation
import Locking
import Logging
import Synchronization
import Testing
@testable import HTTPServer

/// Counts how requests were answered: at once on the connection's queue, or in a task.
final class PathCounter: Sendable {
    let immediate = Atomic(0)
    let tasks = Atomic(0)
}

/// /now answers at once (echoing `?i=`), /later declines the fast path, /fail-now throws on it.
func fastPathRouter(_ counter: PathCounter) -> HTTPRouter {
    var router = HTTPRouter()
    router.add(.get, "/now", ClosureHandler(immediate: { request in
        counter.immediate.add(1, ordering: .relaxed)
        return .text("now \(request.queryValue("i") ?? "-")")
    }) { request in
        counter.tasks.add(1, ordering: .relaxed)
        return .text("task \(request.queryValue("i") ?? "-")")
    })
    router.add(.post, "/now", ClosureHandler(immediate: { _ in
        counter.immediate.add(1, ordering: .relaxed)
        return .text("now")
    }) { request in
        counter.tasks.add(1, ordering: .relaxed)
        return .text("task \(try await request.body.collect(upTo: 1024).count)")
    })
    router.add(.get, "/later", ClosureHandler(immediate: { _ in
        counter.immediate.add(1, ordering: .relaxed)
        return nil
    }) { _ in
        counter.tasks.add(1, ordering: .relaxed)
        return .text("later")
    })
    router.add(.get, "/fail-now", immediately: { _ in throw HTTPError.badRequest("refused at once") })
    return router
}

/// Collects the lines a logger writes (the access log's, in these tests).
final class CapturedLines: Sendable {
    private let lines = Locked<[String]>([])
    var all: [String] { lines.withLock { $0 } }

    func logger() -> Logger {
        var logger = Logger(label: "access") { [self] label in
            StreamLogHandler(label: label, stream: CapturingStream(lines: self), metadataProvider: nil)
        }
        logger.logLevel = .info
        return logger
    }

    fileprivate func append(_ line: String) { lines.withLock { $0.append(line) } }
}

private struct CapturingStream: TextOutputStream, Sendable {
    let lines: CapturedLines
    func write(_ string: String) { lines.append(string) }
}

@Suite("Server: the fast path (answers without a task)")
struct HTTPServerFastPathTests {
    @Test("a handler that answers at once runs no task; one that declines, or a request with a body, runs in a task")
    func whichPath() async throws {
        let counter = PathCounter()
        try await withServer(handler: fastPathRouter(counter)) { _, address in
            let now = try await roundTrip(address, "GET /now?i=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(now.status == 200)
            #expect(now.text == "now 1")
            #expect(now.headers["Content-Length"] == "5")
            #expect(now.headers["X-Request-Id"]?.utf8.count == 32)
            #expect(counter.immediate.load(ordering: .relaxed) == 1)
            #expect(counter.tasks.load(ordering: .relaxed) == 0)

            let later = try await roundTrip(address, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(later.text == "later")
            #expect(counter.immediate.load(ordering: .relaxed) == 2)
            #expect(counter.tasks.load(ordering: .relaxed) == 1)

            // A body must be read or skipped first: such a request never takes the fast path.
            let posted = try await roundTrip(address, "POST /now HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            #expect(posted.text == "task 3")
            #expect(counter.immediate.load(ordering: .relaxed) == 2)
            #expect(counter.tasks.load(ordering: .relaxed) == 2)

            // HEAD through the GET route: the head without the body, on the fast path too.
            let head = try await blocking {
                let client = try TestClient(address)
                try client.send("HEAD /now?i=22 HTTP/1.1\r\nHost: x\r\n\r\n")
                return try client.readResponse(forHEAD: true)
            }
            #expect(head?.status == 200)
            #expect(head?.headers["Content-Length"] == "6")
            #expect(head?.body.isEmpty == true)
            #expect(counter.tasks.load(ordering: .relaxed) == 2)
        }
    }

    @Test("errors on the fast path are problems: thrown by the handler, and the router's 404 and 405")
    func errors() async throws {
        let counter = PathCounter()
        try await withServer(handler: fastPathRouter(counter)) { _, address in
            let refused = try await roundTrip(address, "GET /fail-now HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(refused.status == 400)
            #expect(refused.headers["Content-Type"] == "application/problem+json")
            #expect(refused.text.contains("refused at once"))
            #expect(refused.text.contains(refused.headers["X-Request-Id"] ?? "?"))
            let missing = try await roundTrip(address, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(missing.status == 404)
            let wrong = try await roundTrip(address, "DELETE /now HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(wrong.status == 405)
            #expect(wrong.headers["Allow"] == "GET, POST, HEAD")
            #expect(counter.tasks.load(ordering: .relaxed) == 0)
        }
    }

    @Test("a connection's whole request allowance pipelined in one write is answered at once, in order, without recursing")
    func pipelined() async throws {
        let counter = PathCounter()
        let count = testLimits().maxRequestsPerConnection
        try await withServer(handler: fastPathRouter(counter)) { _, address in
            let (texts, last) = try await blocking {
                let client = try TestClient(address)
                let requests = (0..<count).map { "GET /now?i=\($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined()
                try client.send(requests)
                let responses = try (0..<count).map { _ in try client.readResponse() }
                return (responses.map { $0?.text ?? "-" }, responses.last??.headers["Connection"])
            }
            #expect(texts.count == count && texts.elementsEqual((0..<count).map { "now \($0)" }),
                    "first wrong answer at \(texts.indices.first { texts[$0] != "now \($0)" } ?? -1)")
            #expect(last == "close", "the last allowed request says close")
            #expect(counter.immediate.load(ordering: .relaxed) == count)
            #expect(counter.tasks.load(ordering: .relaxed) == 0)
        }
    }

    @Test("keep-alive rules hold on the fast path: Connection: close, HTTP/1.0, and a mix with task answers")
    func connectionRules() async throws {
        let counter = PathCounter()
        try await withServer(handler: fastPathRouter(counter)) { _, address in
            let (closing, closed) = try await blocking {
                let client = try TestClient(address)
                try client.send("GET /now HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                let response = try client.readResponse()
                return (response, try client.readResponse() == nil)
            }
            #expect(closing?.headers["Connection"] == "close")
            #expect(closed, "the connection ends after a Connection: close answer")

            let old = try await roundTrip(address, "GET /now HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(old.headers["Connection"] == "keep-alive")

            // Fast and task answers interleaved on one connection keep their order.
            let texts = try await blocking {
                let client = try TestClient(address)
                try client.send("GET /now?i=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /later HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /now?i=3 HTTP/1.1\r\nHost: x\r\n\r\nPOST /now HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
                    + "GET /now?i=5 HTTP/1.1\r\nHost: x\r\n\r\n")
                return try (0..<5).map { _ in try client.readResponse()?.text ?? "-" }
            }
            #expect(texts == ["now 1", "later", "now 3", "task 2", "now 5"])
        }
    }

    @Test("the access log writes one line per request on either path, with the status answered")
    func accessLogOnce() async throws {
        let counter = PathCounter()
        let lines = CapturedLines()
        let handler = fastPathRouter(counter).with(AccessLogMiddleware(logger: lines.logger()))
        try await withServer(handler: handler) { _, address in
            _ = try await roundTrip(address, "GET /now HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await roundTrip(address, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await roundTrip(address, "GET /fail-now HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await roundTrip(address, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
        }
        let logged = lines.all
        #expect(logged.count == 4, "\(logged)")
        for (line, expected) in zip(logged, ["GET /now 200", "GET /later 200", "GET /fail-now 400", "GET /nowhere 404"]) {
            #expect(line.hasSuffix(expected + "\n"), "\(line)")
        }
    }

    @Test("middleware keeps the fast path only when it implements it: timing does, a plain one sends every request to a task")
    func middlewareFastPath() async throws {
        struct PlainMiddleware: HTTPMiddleware {
            func handle(_ request: HTTPRequest, next: any HTTPHandler) async throws -> HTTPResponse {
                try await next.handle(request)
            }
        }
        let counter = PathCounter()
        let timed = fastPathRouter(counter).with(TimingMiddleware())
        let request = HTTPRequest(head: HTTPRequestHead(method: .get, target: "/now?i=7"))
        let fast = try #require(try timed.respondImmediately(to: request))
        #expect(fast.headers["Server-Timing"]?.hasPrefix("app;dur=") == true)
        let plain = fastPathRouter(counter).with(PlainMiddleware())
        #expect(try plain.respondImmediately(to: request) == nil)
        #expect(counter.immediate.load(ordering: .relaxed) == 1, "a middleware without the fast path never asks the handler")
    }
}
