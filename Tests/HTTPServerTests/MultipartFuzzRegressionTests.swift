import Testing
@testable import HTTPServer

/// The multipart fuzz target's findings (Fuzz/README.md): limits whose answer depended on how the
/// body was split. Each is checked whole and a byte at a time, at the bound and one past.
@Suite("Multipart parser: fuzz findings")
struct MultipartFuzzRegressionTests {
    static func outcome(_ body: [UInt8], chunk: Int, limits: MultipartParser.Limits = .init()) -> Result<Int, MultipartError> {
        do { return .success(try MultipartParserTests.parse(body, chunk: chunk, limits: limits).count) } catch let e as MultipartError {
            return .failure(e)
        } catch {
            return .failure(.truncated)
        }
    }

    /// One part whose header section (its field lines with their CRLFs) is `size` bytes.
    static func body(headerSection size: Int) -> [UInt8] {
        let fixed = "Content-Disposition: form-data; name=\"c\"; x=\"\"\r\n"
        let filler = String(repeating: "y", count: size - fixed.utf8.count)
        let line = "Content-Disposition: form-data; name=\"c\"; x=\"\(filler)\"\r\n"
        return Array(("--XyZ\r\n" + line + "\r\n{}\r\n--XyZ--\r\n").utf8)
    }

    @Test("a part header section of exactly the limit is accepted however it arrives; one byte more is refused")
    func headerSectionLimit() {
        var limits = MultipartParser.Limits()
        limits.maxPartHeaderBytes = 64
        for chunk in [1, 2, 3, 7, 1000] {
            #expect(Self.outcome(Self.body(headerSection: 64), chunk: chunk, limits: limits) == .success(1), "chunk \(chunk)")
            #expect(Self.outcome(Self.body(headerSection: 65), chunk: chunk, limits: limits) == .failure(.partHeadersTooLarge(limit: 64)),
                    "chunk \(chunk)")
        }
    }

    @Test("transport padding after a boundary: 64 spaces accepted, 65 refused, however the CRLF arrives")
    func transportPadding() {
        func body(_ spaces: Int) -> [UInt8] {
            Array(("--XyZ" + String(repeating: " ", count: spaces) + "\r\n\r\nx\r\n--XyZ--").utf8)
        }
        for chunk in [1, 5, 1000] {
            #expect(Self.outcome(body(MultipartParser.maxTransportPadding), chunk: chunk) == .success(1), "chunk \(chunk)")
            #expect(Self.outcome(body(MultipartParser.maxTransportPadding + 1), chunk: chunk) == .failure(.malformedDelimiter), "chunk \(chunk)")
        }
    }
}
