import Testing
@testable import HTTPServer

@Suite("Parser: malformed and smuggling requests")
struct HTTPRequestParserMalformedTests {
    @Test("the table has at least 35 rows") func tableSize() {
        #expect(malformedRequests.count >= 35)
    }

    @Test("rejected with the exact status, whole and byte by byte", arguments: malformedRequests)
    func rejected(_ row: MalformedRequest) throws {
        for feeding in Feeding.allCases {
            let outcome = parse(row.raw, feeding: feeding, atEOF: row.needsEOF)
            let error = try #require(outcome.error, "\(feeding): no error")
            #expect(error.status.code == row.status, "\(feeding): \(error)")
            // Nothing after the error is ever parsed as another request.
            #expect(outcome.heads.count <= 1, "\(feeding)")
            #expect(outcome.endCount == 0, "\(feeding): a message was completed")
        }
    }

    @Test("after an error the parser stays failed", arguments: malformedRequests.prefix(5))
    func staysFailed(_ row: MalformedRequest) {
        var parser = HTTPRequestParser()
        parser.append(Array(row.raw.utf8))
        var first: HTTPParseError?
        do { while try parser.next() != nil {} } catch { first = error }
        parser.append(Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        #expect(throws: first!) { _ = try parser.next() }
    }
}
