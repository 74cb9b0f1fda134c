/// One request a strict server must refuse, with the exact status it must answer.
struct MalformedRequest: CustomTestStringConvertible, Sendable {
    var name: String
    var raw: String
    var status: Int
    /// The error shows only once the client has ended its side (the message is incomplete).
    var needsEOF = false

    var testDescription: String { "\(name) → \(status)" }
}

import Testing

/// Malformed, ambiguous and smuggling requests (RFC 9112 §2–§7, RFC 9110 §5–§8). Each is answered with
/// `status`, `Connection: close`, and nothing else — in particular no response to what follows it.
let malformedRequests: [MalformedRequest] = {
    let post = "POST /upload HTTP/1.1\r\nHost: example.com\r\n"
    let chunked = post + "Transfer-Encoding: chunked\r\n\r\n"
    return [
        // Content-Length with Transfer-Encoding (RFC 9112 §6.3 rule 3)
        .init(name: "CL then TE", raw: post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400),
        .init(name: "TE then CL", raw: post + "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n", status: 400),
        .init(name: "CL 0 with TE smuggling a request", raw: post + "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nGET /\r\n0\r\n\r\n", status: 400),
        // Content-Length values (RFC 9110 §8.6)
        .init(name: "two different CL lines", raw: post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", status: 400),
        .init(name: "CL list of different values", raw: post + "Content-Length: 5, 6\r\n\r\nhello!", status: 400),
        .init(name: "CL 0 then CL smuggling a request", raw: post + "Content-Length: 0\r\nContent-Length: 37\r\n\r\nGET /admin HTTP/1.1\r\nHost: example.com\r\n\r\n", status: 400),
        .init(name: "CL +5", raw: post + "Content-Length: +5\r\n\r\nhello", status: 400),
        .init(name: "CL -1", raw: post + "Content-Length: -1\r\n\r\n", status: 400),
        .init(name: "CL 0x10", raw: post + "Content-Length: 0x10\r\n\r\n", status: 400),
        .init(name: "CL 1_0", raw: post + "Content-Length: 1_0\r\n\r\n", status: 400),
        .init(name: "CL empty", raw: post + "Content-Length: \r\n\r\n", status: 400),
        .init(name: "CL with inner space", raw: post + "Content-Length: 1 0\r\n\r\n", status: 400),
        .init(name: "CL overflowing Int64", raw: post + "Content-Length: 99999999999999999999\r\n\r\n", status: 400),
        .init(name: "CL 1e3", raw: post + "Content-Length: 1e3\r\n\r\n", status: 400),
        // Transfer-Encoding (RFC 9112 §6.1, §6.3 rule 4, §7)
        .init(name: "chunked not last", raw: post + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", status: 400),
        .init(name: "xchunked", raw: post + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", status: 400),
        .init(name: "chunked twice", raw: post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", status: 400),
        .init(name: "chunked then identity on two lines", raw: post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n", status: 400),
        .init(name: "empty TE", raw: post + "Transfer-Encoding: \r\n\r\n", status: 400),
        .init(name: "gzip then chunked (unimplemented coding)", raw: post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", status: 501),
        .init(name: "TE in HTTP/1.0", raw: "POST / HTTP/1.0\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400),
        // Field syntax (RFC 9112 §5, RFC 9110 §5.5)
        .init(name: "space before colon", raw: "GET / HTTP/1.1\r\nHost : example.com\r\n\r\n", status: 400),
        .init(name: "tab before colon", raw: "GET / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding\t: chunked\r\n\r\n", status: 400),
        .init(name: "obs-fold", raw: "GET / HTTP/1.1\r\nHost: example.com\r\nX-A: a\r\n b\r\n\r\n", status: 400),
        .init(name: "whitespace before first field", raw: "GET / HTTP/1.1\r\n Host: example.com\r\n\r\n", status: 400),
        .init(name: "bare LF ending a field", raw: "GET / HTTP/1.1\r\nHost: example.com\nX-A: b\r\n\r\n", status: 400),
        .init(name: "bare CR in a value", raw: "GET / HTTP/1.1\r\nHost: example.com\r\nX-A: a\rb\r\n\r\n", status: 400),
        .init(name: "NUL in a value", raw: "GET / HTTP/1.1\r\nHost: example.com\r\nX-A: a\u{0}b\r\n\r\n", status: 400),
        .init(name: "DEL in a value", raw: "GET / HTTP/1.1\r\nHost: example.com\r\nX-A: a\u{7F}b\r\n\r\n", status: 400),
        .init(name: "field without colon", raw: "GET / HTTP/1.1\r\nHost: example.com\r\nX-A\r\n\r\n", status: 400),
        .init(name: "empty field name", raw: "GET / HTTP/1.1\r\nHost: example.com\r\n: b\r\n\r\n", status: 400),
        .init(name: "non-token field name", raw: "GET / HTTP/1.1\r\nHost: example.com\r\nX(A): b\r\n\r\n", status: 400),
        // Host (RFC 9112 §3.2)
        .init(name: "no Host in HTTP/1.1", raw: "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", status: 400),
        .init(name: "two Hosts", raw: "GET / HTTP/1.1\r\nHost: example.com\r\nHost: evil.com\r\n\r\n", status: 400),
        .init(name: "Host with a slash", raw: "GET / HTTP/1.1\r\nHost: example.com/evil\r\n\r\n", status: 400),
        .init(name: "empty Host", raw: "GET / HTTP/1.1\r\nHost: \r\n\r\n", status: 400),
        // Request line (RFC 9112 §3, §2.3)
        .init(name: "lowercase HTTP", raw: "GET / http/1.1\r\nHost: example.com\r\n\r\n", status: 400),
        .init(name: "version HTTP/1.10", raw: "GET / HTTP/1.10\r\nHost: example.com\r\n\r\n", status: 400),
        .init(name: "version HTTP/1", raw: "GET / HTTP/1\r\nHost: example.com\r\n\r\n", status: 400),
        .init(name: "version HTTP/2.0", raw: "GET / HTTP/2.0\r\nHost: example.com\r\n\r\n", status: 505),
        .init(name: "two spaces after method", raw: "GET  / HTTP/1.1\r\nHost: example.com\r\n\r\n", status: 400),
        .init(name: "tab as separator", raw: "GET\t/ HTTP/1.1\r\nHost: example.com\r\n\r\n", status: 400),
        .init(name: "space in target", raw: "GET /a b HTTP/1.1\r\nHost: example.com\r\n\r\n", status: 400),
        .init(name: "fragment in target", raw: "GET /a#b HTTP/1.1\r\nHost: example.com\r\n\r\n", status: 400),
        .init(name: "bad percent-encoding", raw: "GET /a%zz HTTP/1.1\r\nHost: example.com\r\n\r\n", status: 400),
        .init(name: "relative target", raw: "GET a/b HTTP/1.1\r\nHost: example.com\r\n\r\n", status: 400),
        .init(name: "bare LF after request line", raw: "GET / HTTP/1.1\nHost: example.com\r\n\r\n", status: 400),
        .init(name: "bare CR in request line", raw: "GET /\r HTTP/1.1\r\nHost: example.com\r\n\r\n", status: 400),
        .init(name: "non-token method", raw: "G(T / HTTP/1.1\r\nHost: example.com\r\n\r\n", status: 400),
        // Chunked body (RFC 9112 §7.1)
        .init(name: "chunk size 0x5", raw: chunked + "0x5\r\nhello\r\n0\r\n\r\n", status: 400),
        .init(name: "chunk size -5", raw: chunked + "-5\r\nhello\r\n0\r\n\r\n", status: 400),
        .init(name: "chunk size +5", raw: chunked + "+5\r\nhello\r\n0\r\n\r\n", status: 400),
        .init(name: "chunk size with leading space", raw: chunked + " 5\r\nhello\r\n0\r\n\r\n", status: 400),
        .init(name: "chunk size with trailing space", raw: chunked + "5 \r\nhello\r\n0\r\n\r\n", status: 400),
        .init(name: "empty chunk size", raw: chunked + "\r\nhello\r\n0\r\n\r\n", status: 400),
        .init(name: "chunk size of 17 hex digits", raw: chunked + "00000000000000005\r\nhello\r\n0\r\n\r\n", status: 400),
        .init(name: "chunk size overflowing", raw: chunked + "FFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n", status: 400),
        .init(name: "chunk extension without name", raw: chunked + "5;\r\nhello\r\n0\r\n\r\n", status: 400),
        .init(name: "chunk extension unterminated quote", raw: chunked + "5;a=\"b\r\nhello\r\n0\r\n\r\n", status: 400),
        .init(name: "chunk data longer than its size", raw: chunked + "5\r\nhello!\r\n0\r\n\r\n", status: 400),
        .init(name: "chunk size with bare LF", raw: chunked + "5\nhello\r\n0\r\n\r\n", status: 400),
        .init(name: "missing final chunk", raw: chunked + "5\r\nhello\r\n", status: 400, needsEOF: true),
        .init(name: "trailer with obs-fold", raw: chunked + "0\r\nX-T: a\r\n b\r\n\r\n", status: 400),
        // Expectations (RFC 9110 §10.1.1)
        .init(name: "unknown expectation", raw: post + "Content-Length: 5\r\nExpect: 200-ok\r\n\r\nhello", status: 417),
    ]
}()
