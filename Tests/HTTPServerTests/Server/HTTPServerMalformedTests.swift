import Testing
@testable import HTTPServer

@Suite("Server: malformed and smuggling requests over a socket")
struct HTTPServerMalformedTests {
    /// Each row gets exactly one response with the row's status and `Connection: close`, then the
    /// connection closes: the valid request appended after it is never answered.
    @Test("one response, the exact status, then close", arguments: malformedRequests)
    func rejected(_ row: MalformedRequest) async throws {
        try await withServer { _, address in
            try await blocking {
                let client = try TestClient(address)
                if row.needsEOF {
                    try client.send(row.raw)
                    client.shutdownWrite()
                } else {
                    try client.send(row.raw + "GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n")
                }
                let response = try #require(try client.readResponse())
                #expect(response.status == row.status)
                #expect(response.headers["Connection"] == "close")
                #expect(response.headers["Content-Type"] == "application/problem+json")
                #expect(response.text.contains("\"status\":\(row.status)"))
                let end = client.waitForClose()
                #expect(end.closed)
                #expect(end.extra.isEmpty, "a second response: \(String(decoding: end.extra, as: UTF8.self))")
            }
        }
    }

    @Test("limits over a socket: 414, 431, 413 before the body")
    func limits() async throws {
        try await withServer { _, address in
            let longLine = "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n"
            #expect(try await roundTrip(address, longLine).status == 414)
            let manyFields = "GET / HTTP/1.1\r\nHost: x\r\n" + (0..<100).map { "X-\($0): v\r\n" }.joined() + "\r\n"
            #expect(try await roundTrip(address, manyFields).status == 431)
            // Per-route limit (10 bytes): refused from Content-Length, before any body byte is sent.
            let tooBig = try await roundTrip(address, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")
            #expect(tooBig.status == 413)
            #expect(tooBig.headers["Connection"] == "close")
            let atLimit = try await roundTrip(address, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789")
            #expect(atLimit.status == 200)
            #expect(atLimit.text == "10")
        }
    }
}
