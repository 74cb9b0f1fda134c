import Foundation
import Testing
@testable import HTTPServer

/// Timeouts and connection limits. Each is tested with a client well inside the limit (served) and
/// one past it (refused); the margins are seconds wide so a busy machine cannot flip the outcome.
@Suite("Server: timeouts and connection limits")
struct HTTPServerTimeoutTests {
    @Test("header timeout: a head finished in time is served; a stalled head gets 408 and close")
    func headerTimeout() async throws {
        try await withServer { _, address in
            try await blocking {
                let inTime = try TestClient(address)
                try inTime.send("GET /hello HTTP/1.1\r\n")
                Thread.sleep(forTimeInterval: 0.3)
                try inTime.send("Host: x\r\n\r\n")
                #expect(try inTime.readResponse()?.status == 200)

                let stalled = try TestClient(address)
                try stalled.send("GET /hello HTTP/1.1\r\nHost: x\r\n")
                let response = try #require(try stalled.readResponse())
                #expect(response.status == 408)
                #expect(response.headers["Connection"] == "close")
                #expect(stalled.waitForClose().closed)
            }
        }
    }

    @Test("a connection that sends nothing is closed without a response")
    func silentConnection() async throws {
        try await withServer { _, address in
            try await blocking {
                let client = try TestClient(address)
                let end = client.waitForClose()
                #expect(end.closed)
                #expect(end.extra.isEmpty)
            }
        }
    }

    @Test("body idle timeout: a stalled body gets 408")
    func bodyTimeout() async throws {
        try await withServer { _, address in
            try await blocking {
                let client = try TestClient(address)
                try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
                let response = try #require(try client.readResponse())
                #expect(response.status == 408)
                #expect(client.waitForClose().closed)
            }
        }
    }

    @Test("keep-alive idle timeout closes an idle connection silently")
    func keepAliveTimeout() async throws {
        try await withServer { _, address in
            try await blocking {
                let client = try TestClient(address)
                try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try client.readResponse()?.status == 200)
                let end = client.waitForClose()
                #expect(end.closed)
                #expect(end.extra.isEmpty)
            }
        }
    }

    @Test("deadlines are swept, not timed one by one: 50 idle connections each close no earlier than their deadline and within a sweep or so of it")
    func sweptDeadlines() async throws {
        var limits = testLimits()
        limits.keepAliveIdleTimeout = .milliseconds(400)
        try await withServer(limits: limits) { server, address in
            let elapsed = try await blocking {
                let clients = try (0..<50).map { _ in try TestClient(address) }
                var started: [ContinuousClock.Instant] = []
                for client in clients {
                    // Counted from before the request: the server's idle deadline starts once the
                    // response is written, so it is never earlier than this.
                    started.append(.now)
                    try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                    #expect(try client.readResponse()?.status == 200)
                }
                return zip(clients, started).map { client, start in
                    let end = client.waitForClose()
                    #expect(end.closed && end.extra.isEmpty)
                    return ContinuousClock.now - start
                }
            }
            // Never early (the client starts counting before the server does); late by at most one
            // DeadlineSweeper.interval plus scheduling, here allowed a generous second.
            #expect(elapsed.allSatisfy { $0 >= .milliseconds(400) }, "\(elapsed.min() ?? .zero)")
            #expect(elapsed.allSatisfy { $0 < .milliseconds(1_400) }, "\(elapsed.max() ?? .zero)")
            for _ in 0..<100 where server.connectionCount > 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.connectionCount == 0)
        }
    }

    @Test("handler timeout: a handler inside it answers, one past it gets 503")
    func handlerTimeout() async throws {
        var limits = testLimits()
        // Generous: a loaded 2-core CI machine can delay a task by hundreds of milliseconds.
        limits.handlerTimeout = .seconds(3)
        try await withServer(limits: limits) { _, address in
            #expect(try await roundTrip(address, "GET /sleep?ms=1 HTTP/1.1\r\nHost: x\r\n\r\n").status == 200)
            let late = try await roundTrip(address, "GET /sleep?ms=10000 HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(late.status == 503)
            #expect(late.text.contains("handler-timeout"))
        }
    }

    @Test("max requests per connection: the last one says close")
    func maxRequests() async throws {
        var limits = testLimits()
        limits.maxRequestsPerConnection = 3
        try await withServer(limits: limits) { _, address in
            try await blocking {
                let client = try TestClient(address)
                for i in 1...3 {
                    try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                    let response = try #require(try client.readResponse())
                    #expect(response.status == 200)
                    #expect((response.headers["Connection"] == "close") == (i == 3), "request \(i)")
                }
                #expect(client.waitForClose().closed)
            }
        }
    }

    @Test("connection limit: at the limit served, one more gets 503 and close")
    func connectionLimit() async throws {
        var limits = testLimits()
        limits.maxConnections = 2
        try await withServer(limits: limits) { server, address in
            try await blocking {
                let a = try TestClient(address), b = try TestClient(address)
                for client in [a, b] {
                    try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                    #expect(try client.readResponse()?.status == 200)
                }
                let c = try TestClient(address)
                let refused = try #require(try c.readResponse())
                #expect(refused.status == 503)
                #expect(c.waitForClose().closed)
            }
            #expect(server.connectionCount <= 2)
        }
    }

    @Test("slow loris: 300 connections trickling headers do not stop a normal client")
    func slowLoris() async throws {
        var limits = testLimits()
        limits.headerTimeout = .seconds(2)
        try await withServer(limits: limits) { server, address in
            let trickling = 300
            let clients = try await blocking { try (0..<trickling).map { _ in try TestClient(address, timeout: 5) } }
            // Each slow client sends one byte of a never-ending head every 50 ms, for 1.5 s.
            let head = Array("GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8) + [UInt8](repeating: 0x61, count: 200)
            let trickler = Thread {
                for step in 0..<30 {
                    for client in clients { _ = try? client.send([head[step % head.count]]) }
                    Thread.sleep(forTimeInterval: 0.05)
                }
            }
            trickler.start()
            // Meanwhile a normal client is served promptly, over and over.
            let answered = try await blocking {
                var ok = 0
                for _ in 0..<20 {
                    let client = try TestClient(address, timeout: 3)
                    try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                    if try client.readResponse()?.status == 200 { ok += 1 }
                }
                return ok
            }
            #expect(answered == 20)
            // Every slow client is cut off by the header timeout: 408 and close.
            let timedOut = try await blocking {
                clients.filter { (try? $0.readResponse())??.status == 408 }.count
            }
            #expect(timedOut == trickling)
            _ = server
        }
    }
}
