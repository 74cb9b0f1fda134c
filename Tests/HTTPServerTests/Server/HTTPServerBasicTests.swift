import Testing
@testable import HTTPServer

@Suite("Server: basics over loopback")
struct HTTPServerBasicTests {
    @Test("GET over IPv4 and IPv6", arguments: [SocketAddress.loopbackIPv4(), .loopbackIPv6()])
    func hello(_ address: SocketAddress) async throws {
        try await withServer(address: address) { _, bound in
            #expect(bound.port != 0)
            let response = try await roundTrip(bound, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(response.status == 200)
            #expect(response.text == "hello")
            #expect(response.headers["Content-Length"] == "5")
            #expect(response.headers["Content-Type"] == "text/plain; charset=utf-8")
            #expect(response.headers["Date"]?.hasSuffix(" GMT") == true)
            #expect(response.headers["X-Request-Id"]?.utf8.count == 32)
            #expect(response.headers["Connection"] == nil)
        }
    }

    @Test("404 and 405 with Allow, as problem+json")
    func routing() async throws {
        try await withServer { _, address in
            let missing = try await roundTrip(address, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(missing.status == 404)
            #expect(missing.headers["Content-Type"] == "application/problem+json")
            #expect(missing.text.contains(#""type":"/problems/not-found""#))
            #expect(missing.text.contains(#""status":404"#))
            let wrong = try await roundTrip(address, "PUT /users/1/items/2 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            #expect(wrong.status == 405)
            #expect(wrong.headers["Allow"] == "GET, DELETE, HEAD")
            let found = try await roundTrip(address, "GET /users/a%20b/items/7 HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(found.text == "a b/7")
        }
    }

    @Test("X-Request-Id: a well-formed one is echoed, others are replaced", arguments: [
        ("abc-123_DEF.4:5", true), ("has space", false), (String(repeating: "a", count: 129), false),
    ])
    func requestID(_ id: String, _ kept: Bool) async throws {
        try await withServer { _, address in
            let response = try await roundTrip(address, "GET /request-id HTTP/1.1\r\nHost: x\r\nX-Request-Id: \(id)\r\n\r\n")
            let echoed = try #require(response.headers["X-Request-Id"])
            #expect(response.text == echoed)
            #expect((echoed == id) == kept)
        }
    }

    @Test("a handler's unexpected error is a 500 problem without its text")
    func handlerError() async throws {
        try await withServer { _, address in
            let response = try await roundTrip(address, "GET /fail HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(response.status == 500)
            #expect(response.text.contains(#""type":"/problems/internal-error""#))
            #expect(!response.text.contains("NSCocoaErrorDomain"))
            #expect(response.text.contains(response.headers["X-Request-Id"] ?? "missing"))
        }
    }

    @Test("keep-alive: many requests on one connection")
    func keepAlive() async throws {
        try await withServer { _, address in
            try await blocking {
                let client = try TestClient(address)
                for i in 0..<20 {
                    try client.send("GET /users/\(i)/items/x HTTP/1.1\r\nHost: x\r\n\r\n")
                    let response = try #require(try client.readResponse())
                    #expect(response.text == "\(i)/x")
                }
                try client.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                let last = try #require(try client.readResponse())
                #expect(last.headers["Connection"] == "close")
                #expect(client.waitForClose().closed)
            }
        }
    }

    @Test("pipelined requests are answered in order, even when earlier ones are slower")
    func pipelining() async throws {
        try await withServer { _, address in
            try await blocking {
                let client = try TestClient(address)
                let requests = "GET /sleep?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                    + "GET /sleep?ms=0 HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
                    + "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                try client.send(requests)
                var texts: [String] = []
                while let response = try client.readResponse() { texts.append(response.text) }
                #expect(texts == ["slept 200", "abc", "slept 0", "de", "hello"])
            }
        }
    }

    @Test("HTTP/1.0: closes by default, keeps alive on request")
    func http10() async throws {
        try await withServer { _, address in
            try await blocking {
                let client = try TestClient(address)
                try client.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let first = try #require(try client.readResponse())
                #expect(first.headers["Connection"] == "keep-alive")
                try client.send("GET /stream HTTP/1.0\r\n\r\n")
                let second = try #require(try client.readResponse())
                #expect(second.headers["Transfer-Encoding"] == nil)  // HTTP/1.0 cannot read chunked
                #expect(second.text == "part 0\npart 1\npart 2\n")
                #expect(client.waitForClose().closed)
            }
        }
    }

    @Test("HEAD has the GET fields and no body; a streamed response is chunked, its HEAD has no framing")
    func headAndStream() async throws {
        try await withServer { _, address in
            try await blocking {
                let client = try TestClient(address)
                try client.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                let head = try #require(try client.readResponse(forHEAD: true))
                #expect(head.status == 200)
                #expect(head.headers["Content-Length"] == "5")
                // HEAD of a body of unknown length promises neither a length nor a framing.
                try client.send("HEAD /stream?n=100 HTTP/1.1\r\nHost: x\r\n\r\n")
                let streamHead = try #require(try client.readResponse(forHEAD: true))
                #expect(streamHead.status == 200)
                #expect(streamHead.headers["Content-Length"] == nil)
                #expect(streamHead.headers["Transfer-Encoding"] == nil)
                try client.send("GET /stream?n=100 HTTP/1.1\r\nHost: x\r\n\r\n")
                let stream = try #require(try client.readResponse())
                #expect(stream.headers["Transfer-Encoding"] == "chunked")
                #expect(stream.text.split(separator: "\n").count == 100)
                // The connection is still usable after both.
                try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try client.readResponse()?.text == "hello")
            }
        }
    }
}
