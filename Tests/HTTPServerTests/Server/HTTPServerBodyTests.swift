import Foundation
import Testing
@testable import HTTPServer

@Suite("Server: request bodies")
struct HTTPServerBodyTests {
    @Test("a chunked upload arrives whole, sent in small pieces")
    func chunkedUpload() async throws {
        try await withServer { _, address in
            try await blocking {
                let client = try TestClient(address)
                try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
                var expected: [UInt8] = []
                for i in 0..<50 {
                    let piece = Array(String(repeating: Character(UnicodeScalar(UInt8(65 + i % 26))), count: 1000 + i).utf8)
                    expected += piece
                    try client.send(String(piece.count, radix: 16) + "\r\n")
                    try client.send(piece + Array("\r\n".utf8))
                }
                try client.send("0\r\nX-Trailer: t\r\n\r\n")
                let response = try #require(try client.readResponse())
                #expect(response.status == 200)
                #expect(byteDifference(response.body, expected) == nil)
            }
        }
    }

    @Test("a large body streams through with backpressure")
    func largeBody() async throws {
        try await withServer { _, address in
            try await blocking {
                // Made before connecting: under -sanitize=thread this takes longer than the header timeout.
                let body = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
                let client = try TestClient(address, timeout: 10)
                try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n")
                // Send on another thread while this one reads the echo, so neither side's buffers fill.
                let sender = Thread { try? client.send(body) }
                sender.start()
                let response = try #require(try client.readResponse())
                #expect(response.status == 200)
                #expect(byteDifference(response.body, body) == nil)
            }
        }
    }

    @Test("a chunked body past the route limit gets 413 while it arrives")
    func chunkedOverRouteLimit() async throws {
        try await withServer { _, address in
            try await blocking {
                let client = try TestClient(address)
                try client.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n6\r\n56789a\r\n")
                let response = try #require(try client.readResponse())
                #expect(response.status == 413)
                #expect(response.headers["Connection"] == "close")
                #expect(client.waitForClose().closed)
            }
        }
    }

    @Test("Expect: 100-continue gets 100 when the handler reads, then the final response")
    func expectContinue() async throws {
        try await withServer { _, address in
            try await blocking {
                let client = try TestClient(address)
                try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
                let interim = try #require(try client.readResponse())
                #expect(interim.status == 100)
                try client.send("data")
                let final = try #require(try client.readResponse())
                #expect(final.status == 200)
                #expect(final.text == "data")
            }
        }
    }

    @Test("Expect: 100-continue with a too-large Content-Length gets 413 and no 100")
    func expectContinueRefused() async throws {
        try await withServer { _, address in
            let response = try await roundTrip(address, "POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n")
            #expect(response.status == 413)
        }
    }

    @Test("a handler that ignores the body: the response says close and arrives intact")
    func ignoredBody() async throws {
        try await withServer { _, address in
            try await blocking {
                let client = try TestClient(address)
                try client.send("POST /ignore-body HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + String(repeating: "z", count: 1000))
                let response = try #require(try client.readResponse())
                #expect(response.text == "ignored")
                #expect(response.headers["Connection"] == "close")
            }
        }
    }

    @Test("a body can be spooled to a temporary file")
    func spool() async throws {
        var router = HTTPRouter()
        router.add(.put, "/spool") { request in
            let spooled = try await request.body.spool(upTo: 1 << 20)
            let file = try OpenFile(path: spooled.path)
            return .text("\(spooled.byteCount) \(try file.status().size)")
        }
        try await withServer(handler: router) { _, address in
            let response = try await roundTrip(address, "PUT /spool HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
            #expect(response.text == "7 7")
        }
    }
}
