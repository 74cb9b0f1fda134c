import Foundation
import Testing
@testable import HTTPServer

@Suite("Server: files, ranges and conditional requests")
struct HTTPServerFileTests {
    static let content: [UInt8] = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }

    func withFileServer(_ body: (SocketAddress) async throws -> Void) async throws {
        let path = NSTemporaryDirectory() + "http-file-test-\(UUID().uuidString)"
        try Data(Self.content).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var router = HTTPRouter()
        router.add(.get, "/file") { request in try .file(path: path, request: request) }
        try await withServer(handler: router) { _, address in try await body(address) }
    }

    @Test("the whole file with ETag and Accept-Ranges, and HEAD")
    func whole() async throws {
        try await withFileServer { address in
            try await blocking {
                let client = try TestClient(address)
                try client.send("GET /file HTTP/1.1\r\nHost: x\r\n\r\n")
                let response = try #require(try client.readResponse())
                #expect(response.status == 200)
                #expect(byteDifference(response.body, Self.content) == nil)
                #expect(response.headers["Accept-Ranges"] == "bytes")
                #expect(response.headers["ETag"]?.hasPrefix("\"") == true)
                try client.send("HEAD /file HTTP/1.1\r\nHost: x\r\n\r\n")
                let head = try #require(try client.readResponse(forHEAD: true))
                #expect(head.headers["Content-Length"] == "\(Self.content.count)")
                try client.send("GET /file HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(byteDifference(try #require(try client.readResponse()).body, Self.content) == nil)
            }
        }
    }

    @Test("ranges: 206 with Content-Range, 416 past the end, several ranges → 200", arguments: [
        ("bytes=0-9", 206, "bytes 0-9/100000", 0..<10),
        ("bytes=99990-", 206, "bytes 99990-99999/100000", 99990..<100000),
        ("bytes=-5", 206, "bytes 99995-99999/100000", 99995..<100000),
        ("bytes=50-200000", 206, "bytes 50-99999/100000", 50..<100000),
        ("bytes=100000-", 416, "bytes */100000", 0..<0),
        ("bytes=0-1,5-6", 200, nil, 0..<100000),
        ("bytes=9-1", 200, nil, 0..<100000),
        ("items=0-1", 200, nil, 0..<100000),
    ] as [(String, Int, String?, Range<Int>)])
    func ranges(_ range: String, _ status: Int, _ contentRange: String?, _ slice: Range<Int>) async throws {
        try await withFileServer { address in
            let response = try await roundTrip(address, "GET /file HTTP/1.1\r\nHost: x\r\nRange: \(range)\r\n\r\n")
            #expect(response.status == status)
            #expect(response.headers["Content-Range"] == contentRange)
            if status != 416 { #expect(response.body == Array(Self.content[slice])) }
        }
    }

    @Test("If-None-Match with the ETag → 304 without body; If-Range mismatch → whole file")
    func conditional() async throws {
        try await withFileServer { address in
            let first = try await roundTrip(address, "GET /file HTTP/1.1\r\nHost: x\r\n\r\n")
            let etag = try #require(first.headers["ETag"])
            let cached = try await roundTrip(address, "GET /file HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"other\", W/\(etag)\r\n\r\n")
            #expect(cached.status == 304)
            #expect(cached.body.isEmpty)
            #expect(cached.headers["ETag"] == etag)
            let changed = try await roundTrip(address, "GET /file HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"other\"\r\n\r\n")
            #expect(changed.status == 200)
            let ifRange = try await roundTrip(address, "GET /file HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\nIf-Range: \(etag)\r\n\r\n")
            #expect(ifRange.status == 206)
            let stale = try await roundTrip(address, "GET /file HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\nIf-Range: \"old\"\r\n\r\n")
            #expect(stale.status == 200)
        }
    }
}
