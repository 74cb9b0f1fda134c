import Foundation
import Logging
import Synchronization
import Testing
@testable import HTTPServer

@Suite("Server: graceful shutdown")
struct HTTPServerShutdownTests {
    @Test("in-flight requests finish with Connection: close, idle connections close, new ones are refused")
    func graceful() async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        // The slow handler says when it has started, so the shutdown surely finds it in flight (a
        // fixed pause was not enough on a machine busy with the other suites).
        final class Flag: Sendable { let value = Atomic(false) }
        let started = Flag()
        var router = testRouter()
        router.add(.get, "/slow") { _ in
            started.value.store(true, ordering: .relaxed)
            try await Task.sleep(for: .milliseconds(500))
            return .text("slow")
        }
        let server = HTTPServer(configuration: .init(address: .loopbackIPv4(), limits: testLimits()),
                                handler: router, logger: logger)
        let address = try server.start()
        let (busy, idle) = try await blocking {
            let busy = try TestClient(address), idle = try TestClient(address)
            try idle.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try idle.readResponse()
            try busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            return (busy, idle)
        }
        for _ in 0..<500 where !started.value.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(10)) }
        let didStart = started.value.load(ordering: .relaxed)
        #expect(didStart)
        async let stopped: Void = server.shutdown(deadline: .seconds(5))
        let response = try await blocking { try busy.readResponse() }
        #expect(response?.status == 200)
        #expect(response?.headers["Connection"] == "close")
        let idleEnd = try await blocking { idle.waitForClose() }
        #expect(idleEnd.closed)
        await stopped
        #expect(server.connectionCount == 0)
        await #expect(throws: (any Error).self) {
            try await blocking { _ = try TestClient(address) }
        }
    }

    @Test("the deadline cuts off a handler that does not finish")
    func deadline() async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let server = HTTPServer(configuration: .init(address: .loopbackIPv4(), limits: testLimits()),
                                handler: testRouter(), logger: logger)
        let address = try server.start()
        let client = try await blocking {
            let client = try TestClient(address)
            try client.send("GET /sleep?ms=4000 HTTP/1.1\r\nHost: x\r\n\r\n")
            return client
        }
        try await Task.sleep(for: .milliseconds(100))
        let start = ContinuousClock.now
        await server.shutdown(deadline: .milliseconds(300))
        #expect(ContinuousClock.now - start < .seconds(3))
        #expect(server.connectionCount == 0)
        let end = try await blocking { client.waitForClose() }
        #expect(end.closed)
    }
}
