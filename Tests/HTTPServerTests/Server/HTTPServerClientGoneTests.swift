import Foundation
import Locking
import Testing
@testable import HTTPServer

/// A client that goes away while its handler works cancels the handler (nginx's 499): the work it
/// started is not done for nobody. Pipelined requests, which also make the socket readable, are not
/// mistaken for a departure.
@Suite("Server: a client that goes away cancels its handler")
struct HTTPServerClientGoneTests {
    /// A handler that waits until cancelled (or 10 s), recording what happened.
    final class Probe: Sendable {
        let started = Locked(0)
        let cancelled = Locked(0)
        let finished = Locked(0)
    }

    static func router(_ probe: Probe) -> HTTPRouter {
        var router = testRouter()
        router.add(.get, "/wait") { _ in
            probe.started.withLock { $0 += 1 }
            do {
                try await Task.sleep(for: .seconds(10))
            } catch {
                probe.cancelled.withLock { $0 += 1 }
                throw error
            }
            probe.finished.withLock { $0 += 1 }
            return .text("waited")
        }
        return router
    }

    static func eventually(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw TestClientError.malformed("condition not met within 5 s") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test("closing the connection cancels the handler at once", arguments: [false, true])
    func closeCancels(_ reset: Bool) async throws {
        let probe = Probe()
        try await withServer(handler: Self.router(probe)) { server, address in
            let client = try TestClient(address)
            try client.send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
            try await Self.eventually { probe.started.withLock { $0 } == 1 }
            if reset {
                // SO_LINGER 0: close sends RST rather than FIN.
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(client.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            }
            client.closeNow()
            try await Self.eventually { probe.cancelled.withLock { $0 } == 1 }
            try await Self.eventually { server.connectionCount == 0 }
            #expect(probe.finished.withLock { $0 } == 0)
        }
    }

    @Test("a pipelined request behind a slow one is not taken for a departure; both are answered in order")
    func pipelinedIsNotDeparture() async throws {
        try await withServer { _, address in
            try await blocking {
                let client = try TestClient(address)
                try client.send("GET /sleep?ms=200 HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                let first = try #require(try client.readResponse())
                let second = try #require(try client.readResponse())
                #expect(first.status == 200 && first.text == "slept 200")
                #expect(second.status == 200 && second.text == "hello")
            }
        }
    }

    @Test("a client that stays connected gets its slow answer, and the connection is kept")
    func stayingClientIsServed() async throws {
        try await withServer { _, address in
            try await blocking {
                let client = try TestClient(address)
                try client.send("GET /sleep?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n")
                let response = try #require(try client.readResponse())
                #expect(response.status == 200 && response.text == "slept 300")
                try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try client.readResponse()?.text == "hello")
            }
        }
    }
}
