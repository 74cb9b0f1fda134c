import Testing
@testable import HTTPServer

@Suite("Multipart parser")
struct MultipartParserTests {
    /// Parts as (name, filename, content), collected from events.
    struct Part: Equatable { var name: String?; var filename: String?; var content: [UInt8] }

    static func parse(_ body: [UInt8], boundary: String = "XyZ", chunk: Int? = nil,
                      limits: MultipartParser.Limits = .init()) throws -> [Part] {
        var parser = try MultipartParser(boundary: boundary, limits: limits)
        var events: [MultipartParser.Event] = []
        let size = chunk ?? max(body.count, 1)
        var i = 0
        while i < body.count {
            events += try parser.feed(Array(body[i..<min(i + size, body.count)]))
            i += size
        }
        events += try parser.finish()
        var parts: [Part] = []
        var open = false
        for e in events {
            switch e {
            case let .partBegin(head):
                #expect(!open)
                parts.append(Part(name: head.name, filename: head.filename, content: []))
                open = true
            case let .partData(d):
                #expect(open)
                parts[parts.count - 1].content += d
            case .partEnd:
                open = false
            }
        }
        #expect(!open)
        return parts
    }

    static let twoParts = Array((
        "preamble to ignore\r\n" +
        "--XyZ\r\n" +
        "Content-Disposition: form-data; name=\"config\"; filename=\"adapter_config.json\"\r\n" +
        "Content-Type: application/json\r\n\r\n" +
        "{\"r\": 8}\r\n" +
        "--XyZ  \r\n" +
        "Content-Disposition: form-data; name=weights; filename=\"a\\\"b.safetensors\"\r\n\r\n" +
        "\r\n--Xy binary \r\n-- not a boundary\r\n" +
        "--XyZ--\r\nepilogue").utf8)

    @Test("two parts, whole and fed in every chunk size from 1 byte")
    func twoPartsAnyChunking() throws {
        let expected = [
            Part(name: "config", filename: "adapter_config.json", content: Array("{\"r\": 8}".utf8)),
            Part(name: "weights", filename: "a\"b.safetensors", content: Array("\r\n--Xy binary \r\n-- not a boundary".utf8)),
        ]
        for size in [1, 2, 3, 5, 7, 13, 64, 1000] {
            #expect(try Self.parse(Self.twoParts, chunk: size) == expected, "chunk \(size)")
        }
    }

    @Test("a body that opens with the boundary, an empty part, a part without headers")
    func edges() throws {
        let body = Array("--b\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n\r\n--b\r\n\r\nraw\r\n--b--".utf8)
        #expect(try Self.parse(body, boundary: "b") == [Part(name: "e", filename: nil, content: []),
                                                         Part(name: nil, filename: nil, content: Array("raw".utf8))])
    }

    @Test("the boundary parameter is read from Content-Type")
    func boundaryFromContentType() {
        #expect(MultipartParser.boundary(fromContentType: "multipart/form-data; boundary=abc") == "abc")
        #expect(MultipartParser.boundary(fromContentType: "Multipart/Form-Data;charset=x; BOUNDARY=\"a b\"") == "a b")
        #expect(MultipartParser.boundary(fromContentType: "application/json") == nil)
        #expect(MultipartParser.boundary(fromContentType: "multipart/form-data") == nil)
    }

    @Test("boundary length: 70 accepted, 71 refused; bad characters refused")
    func boundaryBounds() throws {
        _ = try MultipartParser(boundary: String(repeating: "a", count: 70))
        #expect(throws: MultipartError.self) { try MultipartParser(boundary: String(repeating: "a", count: 71)) }
        #expect(throws: MultipartError.self) { try MultipartParser(boundary: "") }
        #expect(throws: MultipartError.self) { try MultipartParser(boundary: "a\"b") }
        #expect(throws: MultipartError.self) { try MultipartParser(boundary: "ends with space ") }
    }

    @Test("malformed bodies", arguments: [
        ("--b\r\nContent-Disposition: form-data\r\n\r\nno closing boundary", MultipartError.truncated),
        ("--b\r\nBad Header\r\n\r\nx\r\n--b--", .malformedPartHeader("Bad Header")),
        ("--bX\r\n\r\nx\r\n--b--", .malformedDelimiter),
        ("", .truncated),
    ])
    func malformed(_ body: String, _ error: MultipartError) {
        #expect(throws: error) { _ = try Self.parse(Array(body.utf8), boundary: "b") }
    }

    @Test("part count limit: at the limit accepted, one past refused")
    func partLimit() throws {
        var limits = MultipartParser.Limits()
        limits.maxParts = 3
        let part = "--b\r\n\r\nx\r\n"
        _ = try Self.parse(Array((String(repeating: part, count: 3) + "--b--").utf8), boundary: "b", limits: limits)
        #expect(throws: MultipartError.tooManyParts(limit: 3)) {
            _ = try Self.parse(Array((String(repeating: part, count: 4) + "--b--").utf8), boundary: "b", limits: limits)
        }
    }

    @Test("part header size limit: at the limit accepted, one past refused")
    func headerLimit() throws {
        var limits = MultipartParser.Limits()
        limits.maxPartHeaderBytes = 64
        func body(_ headerBytes: Int) -> [UInt8] {
            // "X: " + value + CRLF counts towards the section, which ends before the empty line.
            let value = String(repeating: "v", count: headerBytes - 5)
            return Array("--b\r\nX: \(value)\r\n\r\ndata\r\n--b--".utf8)
        }
        #expect(try Self.parse(body(64), boundary: "b", limits: limits).count == 1)
        #expect(throws: MultipartError.partHeadersTooLarge(limit: 64)) {
            _ = try Self.parse(body(65), boundary: "b", limits: limits)
        }
    }

    @Test("preamble limit: at the limit accepted, one past refused, whole or byte by byte", arguments: [nil, 1])
    func preambleLimit(_ chunk: Int?) throws {
        var limits = MultipartParser.Limits()
        limits.maxPreambleBytes = 32
        // The preamble is everything before the CRLF that precedes the first delimiter.
        func body(_ n: Int) -> [UInt8] { Array((String(repeating: "p", count: n) + "\r\n--b\r\n\r\nx\r\n--b--").utf8) }
        #expect(try Self.parse(body(32), boundary: "b", chunk: chunk, limits: limits).count == 1)
        #expect(throws: MultipartError.preambleTooLarge(limit: 32)) {
            _ = try Self.parse(body(33), boundary: "b", chunk: chunk, limits: limits)
        }
    }
}
