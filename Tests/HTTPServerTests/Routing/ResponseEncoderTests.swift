import Testing
@testable import HTTPServer

/// Response heads are encoded as bytes, field by field; checked here against heads spelled out by
/// hand (an independent rendering, the way RFC 9112 §4 and §6 describe them).
@Suite("Response heads encoded as bytes")
struct ResponseEncoderTests {
    private func encoded(_ response: HTTPResponse, _ framing: ResponseEncoder.Framing, close: Bool = false,
                         keepAlive10: Bool = false) -> String {
        var out: [UInt8] = Array("leftover".utf8)   // a reused buffer: appended to, never assumed empty
        ResponseEncoder.encodeHead(for: response, framing: framing, close: close, keepAliveHTTP10: keepAlive10,
                                   requestID: "rid-1", into: &out)
        #expect(out.starts(with: Array("leftover".utf8)))
        let text = String(decoding: out.dropFirst(8), as: UTF8.self)
        // The Date line is the clock's: check its shape, then take it out.
        let lines = text.components(separatedBy: "\r\n")
        #expect(lines.count > 2 && lines[1].hasPrefix("Date: ") && lines[1].hasSuffix(" GMT"))
        return lines.enumerated().filter { $0.offset != 1 }.map(\.element).joined(separator: "\r\n")
    }

    @Test("status line, fields in order, framing, Connection and the request id")
    func table() {
        var response = HTTPResponse.text("hi")
        response.headers.append(name: "ETag", value: "\"abc\"")
        #expect(encoded(response, .contentLength(2))
                == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nETag: \"abc\"\r\nContent-Length: 2\r\nX-Request-Id: rid-1\r\n\r\n")
        #expect(encoded(.status(.noContent), .none, close: true)
                == "HTTP/1.1 204 No Content\r\nConnection: close\r\nX-Request-Id: rid-1\r\n\r\n")
        #expect(encoded(.status(.ok), .chunked)
                == "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Request-Id: rid-1\r\n\r\n")
        #expect(encoded(.status(.ok), .contentLength(0), keepAlive10: true)
                == "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\nX-Request-Id: rid-1\r\n\r\n")
        #expect(encoded(.status(HTTPStatus(code: 599)), .closeDelimited)
                == "HTTP/1.1 599 Status\r\nX-Request-Id: rid-1\r\n\r\n")
    }

    @Test("fields the server owns are dropped from a handler's response; values cannot split the head")
    func ownedAndSanitized() {
        var response = HTTPResponse.status(.ok)
        for name in ["content-length", "Transfer-Encoding", "CONNECTION", "Date", "Keep-Alive", "x-request-id"] {
            response.headers.append(name: name, value: "forged")
        }
        response.headers.append(name: "X-Note", value: "a\r\nSet-Cookie: x\u{0}\ny\rz")
        #expect(encoded(response, .contentLength(1))
                == "HTTP/1.1 200 OK\r\nX-Note: a Set-Cookie: x  y z\r\nContent-Length: 1\r\nX-Request-Id: rid-1\r\n\r\n")
    }

    @Test("decimal digits at the edges", arguments: [0, 9, 10, 99, 100, 65_535, 1 << 40, Int.max, -1, Int.min])
    func decimal(_ value: Int) {
        var out: [UInt8] = []
        ResponseEncoder.appendDecimal(value, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == String(value))
    }
}

@Suite("Request ids")
struct RequestIDTests {
    @Test("200,000 generated ids: all distinct, 32 lowercase hex digits, well-formed")
    func distinct() {
        var seen = Set<String>()
        for _ in 0..<200_000 {
            let id = RequestID.generate()
            #expect(id.utf8.count == 32 && id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
            seen.insert(id)
        }
        #expect(seen.count == 200_000)
        #expect(RequestID.isWellFormed(RequestID.generate()))
    }

    @Test("the mixer is a bijection on the words it is given (no two counters share an id)")
    func mixer() {
        let inputs: [UInt64] = Array(0..<50_000) + [UInt64.max, UInt64.max - 1, 1 << 63]
        #expect(Set(inputs.map(RequestID.mix)).count == inputs.count)
        #expect(RequestID.mix(0) == 0, "splitmix64's finalizer fixes 0 (the keys keep it from appearing)")
    }
}
