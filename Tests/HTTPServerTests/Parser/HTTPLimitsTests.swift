import Testing
@testable import HTTPServer

/// Each parser limit exactly at its bound (accepted) and one past it (refused with its status).
@Suite("Parser: limits at the bound and one past")
struct HTTPLimitsTests {
    /// A request line of exactly `length` bytes (CRLF excluded).
    func requestLine(length: Int) -> String {
        let fixed = "GET / HTTP/1.1".utf8.count
        return "GET /" + String(repeating: "a", count: length - fixed) + " HTTP/1.1"
    }

    @Test("request line: 8 KiB accepted, one more byte → 414")
    func requestLineLimit() throws {
        let limit = HTTPLimits.default.maxRequestLineBytes
        #expect(limit == 8 * 1024)
        #expect(requestLine(length: limit).utf8.count == limit)
        for feeding in [Feeding.whole, .byteByByte] {
            #expect(parse(requestLine(length: limit) + "\r\nHost: a\r\n\r\n", feeding: feeding).error == nil)
            #expect(parse(requestLine(length: limit + 1) + "\r\nHost: a\r\n\r\n", feeding: feeding).error
                    == .requestLineTooLong(limit: limit))
        }
        // Refused before the line ends, so a client cannot make the server buffer an endless line.
        #expect(parse(requestLine(length: limit + 1)).error?.status == .uriTooLong)
        #expect(parse(requestLine(length: limit)).error == nil)
    }

    @Test("header field line: 8 KiB accepted, one more byte → 431")
    func fieldLimit() throws {
        let limit = HTTPLimits.default.maxHeaderFieldBytes
        let prefix = "X-Long: "
        func line(_ n: Int) -> String { prefix + String(repeating: "v", count: n - prefix.utf8.count) }
        #expect(parse("GET / HTTP/1.1\r\nHost: a\r\n" + line(limit) + "\r\n\r\n").error == nil)
        #expect(parse("GET / HTTP/1.1\r\nHost: a\r\n" + line(limit + 1) + "\r\n\r\n").error
                == .headerFieldTooLarge(limit: limit))
        #expect(parse("GET / HTTP/1.1\r\nHost: a\r\n" + line(limit + 1)).error?.status == .requestHeaderFieldsTooLarge)
    }

    /// A header section of exactly `bytes` bytes: field lines plus their CRLFs.
    func section(bytes: Int, lineLimit: Int) -> String {
        var remaining = bytes - "Host: a\r\n".utf8.count
        var text = "Host: a\r\n"
        var n = 0
        while remaining > 0 {
            let lineBytes = min(remaining, lineLimit + 2)
            let name = "X-\(n): "
            let valueBytes = lineBytes - 2 - name.utf8.count
            precondition(valueBytes >= 1, "adjust the section size")
            text += name + String(repeating: "v", count: valueBytes) + "\r\n"
            remaining -= lineBytes
            n += 1
        }
        return text
    }

    @Test("header section: 32 KiB accepted, one more byte → 431")
    func sectionLimit() throws {
        let limits = HTTPLimits.default
        let limit = limits.maxHeaderSectionBytes
        #expect(limit == 32 * 1024)
        let atLimit = section(bytes: limit, lineLimit: limits.maxHeaderFieldBytes - 10)
        #expect(atLimit.utf8.count == limit)
        #expect(parse("GET / HTTP/1.1\r\n" + atLimit + "\r\n").error == nil)
        let past = section(bytes: limit + 1, lineLimit: limits.maxHeaderFieldBytes - 10)
        #expect(parse("GET / HTTP/1.1\r\n" + past + "\r\n").error == .headerSectionTooLarge(limit: limit))
        #expect(parse("GET / HTTP/1.1\r\n" + past + "\r\n", feeding: .byteByByte).error?.status
                == .requestHeaderFieldsTooLarge)
    }

    @Test("header fields: 100 accepted, 101 → 431")
    func fieldCount() throws {
        let limit = HTTPLimits.default.maxHeaderFieldCount
        #expect(limit == 100)
        func request(fields: Int) -> String {
            "GET / HTTP/1.1\r\nHost: a\r\n" + (1..<fields).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        }
        #expect(parse(request(fields: limit)).heads.first?.headers.count == limit)
        #expect(parse(request(fields: limit + 1)).error == .tooManyHeaderFields(limit: limit))
    }

    @Test("body: Content-Length at the limit accepted, one more → 413 before any body byte")
    func contentLengthLimit() throws {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 10
        let atLimit = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", limits: limits)
        #expect(atLimit.error == nil)
        #expect(atLimit.body.count == 10)
        let past = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", limits: limits)
        #expect(past.error == .bodyTooLarge(limit: 10))
        #expect(past.heads.isEmpty)
    }

    @Test("body: chunked total at the limit accepted, one more → 413 when the chunk is announced")
    func chunkedBodyLimit() throws {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 10
        let head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        let atLimit = parse(head + "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n", limits: limits, feeding: .byteByByte)
        #expect(atLimit.error == nil)
        #expect(atLimit.body.count == 10)
        let past = parse(head + "5\r\n01234\r\n6\r\n", limits: limits)
        #expect(past.error == .bodyTooLarge(limit: 10))
        #expect(past.body.count == 5)
    }

    @Test("chunk size: 16 hex digits accepted, 17 → 400")
    func chunkSizeDigits() throws {
        let head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        let limit = HTTPLimits.default.maxChunkSizeDigits
        #expect(limit == 16)
        let ok = parse(head + String(repeating: "0", count: limit - 1) + "3\r\nabc\r\n0\r\n\r\n")
        #expect(ok.error == nil)
        #expect(ok.body == Array("abc".utf8))
        let past = parse(head + String(repeating: "0", count: limit) + "3\r\nabc\r\n0\r\n\r\n")
        #expect(past.error == .chunkSizeTooLong(limit: limit))
        // Refused before the line ends.
        #expect(parse(head + String(repeating: "0", count: limit + 1)).error == .chunkSizeTooLong(limit: limit))
    }

    @Test("chunk extension: at the limit accepted, one more byte → 400")
    func chunkExtension() throws {
        let head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        let limit = HTTPLimits.default.maxChunkExtensionBytes
        func ext(_ n: Int) -> String { ";" + String(repeating: "e", count: n - 1) }
        #expect(parse(head + "3" + ext(limit) + "\r\nabc\r\n0\r\n\r\n").error == nil)
        #expect(parse(head + "3" + ext(limit + 1) + "\r\nabc\r\n0\r\n\r\n").error == .chunkExtensionTooLong(limit: limit))
        #expect(parse(head + "0" + ext(limit + 1)).error?.status == .badRequest)
    }

    @Test("trailer section: at the limit accepted, one more byte → 431")
    func trailerSection() throws {
        let head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
        let limit = HTTPLimits.default.maxTrailerSectionBytes
        func trailer(_ n: Int) -> String { "X-T: " + String(repeating: "t", count: n - 2 - 5) + "\r\n" }
        #expect(trailer(limit).utf8.count == limit)
        let ok = parse(head + trailer(limit) + "\r\n")
        #expect(ok.error == nil)
        #expect(ok.endCount == 1)
        #expect(parse(head + trailer(limit + 1) + "\r\n").error == .trailerSectionTooLarge(limit: limit))
    }

    @Test("trailer fields: 32 accepted, 33 → 431")
    func trailerCount() throws {
        let head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
        let limit = HTTPLimits.default.maxTrailerFieldCount
        func trailers(_ n: Int) -> String { (0..<n).map { "X-\($0): t\r\n" }.joined() + "\r\n" }
        #expect(parse(head + trailers(limit)).trailers.first?.count == limit)
        #expect(parse(head + trailers(limit + 1)).error == .tooManyTrailerFields(limit: limit))
    }

    @Test("empty lines before a request count against the request-line limit")
    func leadingEmptyLines() throws {
        var limits = HTTPLimits()
        limits.maxRequestLineBytes = 20
        #expect(parse(String(repeating: "\r\n", count: 10) + "GET / HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits).error == nil)
        #expect(parse(String(repeating: "\r\n", count: 11), limits: limits).error == .requestLineTooLong(limit: 20))
    }
}
