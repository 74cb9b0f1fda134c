import Foundation
import Testing
@testable import HTTPServer

/// Inputs found by Fuzz/run.sh. Each is checked for the fuzzer's invariant: the outcome does not
/// depend on how the bytes are split. The first byte of each input selects the fuzzer's small limits.
@Suite("Parser: fuzzer regressions")
struct HTTPRequestParserFuzzRegressionTests {
    /// The small limits Fuzz/HTTPParserFuzz.swift uses when the first input byte is odd.
    static var fuzzLimits: HTTPLimits {
        var limits = HTTPLimits()
        limits.maxRequestLineBytes = 64
        limits.maxHeaderFieldBytes = 48
        limits.maxHeaderSectionBytes = 128
        limits.maxHeaderFieldCount = 4
        limits.maxBodyBytes = 64
        limits.maxChunkSizeDigits = 3
        limits.maxChunkExtensionBytes = 8
        limits.maxTrailerSectionBytes = 32
        limits.maxTrailerFieldCount = 2
        return limits
    }

    static let findings: [(name: String, base64: String)] = [
        // A header line crossing the section limit before the field limit: byte-by-byte feeding
        // reported headerSectionTooLarge, whole feeding headerFieldTooLarge.
        ("section limit vs field limit", "AVBPU1QgL3ggSFRUUC8xLjENCkhvc3Q6IGENClRyYW5zZmVyLW9uOiBrZXF1ZW5jZSl2ZWVlcC1hLCwsVCAvIEhUVFAvMC4wDQpDb25uZWN0aW9uOlRQLzEuMA0KQ29ubmVjdGlvbjo6IGtlcXVlbmNlKTEuMA0KQ29ubmVjdGlvbjoga/////////////////////////////////////////////8tYSwsLFQgLyBIVFAvMS4wDQpDb25uRW5jb2Rpbmc6IGNodW5rZWQNLwoNJQrbDQpoZWxs/////////////////////////////////////////////////y8KDQrbDQpoZWxs////////////////////////////////////////////////////////////////////////////////bw0KMTANCjAxMjM0bG8NAVAKME9T"),
    ]

    @Test("the outcome does not depend on how the bytes are split", arguments: findings.map(\.name))
    func splitIndependent(_ name: String) throws {
        let base64 = try #require(Self.findings.first { $0.name == name }?.base64)
        let input = try #require(Data(base64Encoded: base64))
        let limits = input.first! & 1 == 1 ? Self.fuzzLimits : HTTPLimits()
        let bytes = Array(input.dropFirst())
        let whole = parse(bytes, limits: limits, feeding: .whole, atEOF: true)
        let single = parse(bytes, limits: limits, feeding: .byteByByte, atEOF: true)
        #expect(whole.error == single.error)
        #expect(whole.heads == single.heads)
        #expect(whole.body == single.body)
    }
}
