// libFuzzer entry for MultipartParser. Fuzz/run.sh compiles it together with
// Sources/HTTPServer/Multipart/*.swift (the parser needs nothing else from HTTPServer) and
// Fuzz/Support/FuzzSupport.swift, so no Package.swift target.
//
// Input layout (Fuzz/make_corpus.py writes seeds this way):
//   byte 0, bit 0     small limits (part headers 64 bytes, 3 parts, preamble 32 bytes)
//   byte 0, bits 1-2  the boundary: 0 curl's style, 1 "XyZ", 2 or 3: the bytes up to the first LF are a
//                     Content-Type value, and the boundary is `MultipartParser.boundary(fromContentType:)` of it
//   the rest          the body (after that LF in modes 2 and 3)
// The first 8 input bytes also choose the cuts for the split feed.
//
// Invariants, besides no trap and no sanitizer report:
//   - a boundary is refused exactly when RFC 2046 §5.1.1 refuses it;
//   - events and error do not depend on how the body is split (whole, byte by byte, chosen cuts), with
//     part data merged per part; when parsing fails, the events delivered before the error are a prefix
//     of what byte-by-byte feeding delivered;
//   - on success the events are `partBegin, partData*, partEnd` runs, at most maxParts of them, and no
//     part's content contains the delimiter (CRLF "--" boundary).

let curlBoundary = "------------------------d74496d66958873e"

struct MultipartOutcome: Equatable {
    var events: [Merged<MultipartPartHead>] = []
    var error: MultipartError?
}

func parseMultipart(_ pieces: some Sequence<[UInt8]>, boundary: String, limits: MultipartParser.Limits) -> MultipartOutcome {
    var outcome = MultipartOutcome()
    func take(_ events: [MultipartParser.Event]) {
        for event in events {
            switch event {
            case let .partBegin(head): outcome.events.append(.begin(head))
            case let .partData(chunk): outcome.events.appendData(chunk)
            case .partEnd: outcome.events.append(.end)
            }
        }
    }
    do throws(MultipartError) {
        var parser = try MultipartParser(boundary: boundary, limits: limits)
        for piece in pieces { take(try parser.feed(piece)) }
        take(try parser.finish())
    } catch {
        outcome.error = error
    }
    return outcome
}

/// RFC 2046 §5.1.1, restated: 1–70 characters from `bchars`, the last not a space.
func isValidBoundary(_ boundary: String) -> Bool {
    let b = Array(boundary.utf8)
    let bchars = Set(Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ".utf8))
    return (1...70).contains(b.count) && b.last != UInt8(ascii: " ") && b.allSatisfy(bchars.contains)
}

func checkMultipart(_ outcome: MultipartOutcome, boundary: String, limits: MultipartParser.Limits) {
    let lengths = checkStructure(outcome.events, complete: outcome.error == nil)
    fuzzCheck(lengths.count <= limits.maxParts, "\(lengths.count) parts past the limit of \(limits.maxParts)")
    guard outcome.error == nil else { return }
    let delimiter = Array("\r\n--\(boundary)".utf8)
    for case let .data(content) in outcome.events where content.count >= delimiter.count {
        for start in 0...(content.count - delimiter.count) where content[start] == 0x0D {
            fuzzCheck(!content[start..<(start + delimiter.count)].elementsEqual(delimiter),
                      "a part's content holds the delimiter at \(start)")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMultipart(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    var limits = MultipartParser.Limits()
    if input[0] & 1 == 1 {
        limits.maxPartHeaderBytes = 64
        limits.maxParts = 3
        limits.maxPreambleBytes = 32
    }
    let boundary: String
    var body = Array(input.dropFirst())
    switch (input[0] >> 1) & 3 {
    case 0:
        boundary = curlBoundary
    case 1:
        boundary = "XyZ"
    default:
        guard let lf = body.firstIndex(of: 0x0A) else { return 0 }
        let contentType = String(decoding: body[..<lf], as: UTF8.self)
        body = Array(body[(lf + 1)...])
        guard let b = MultipartParser.boundary(fromContentType: contentType) else { return 0 }
        boundary = b
    }

    let whole = parseMultipart([body], boundary: boundary, limits: limits)
    let valid = isValidBoundary(boundary)
    fuzzCheck(valid == (whole.error != .invalidBoundary(boundary)),
              "boundary \(boundary.debugDescription) valid per RFC 2046: \(valid), parser: \(String(describing: whole.error))")
    guard valid else { return 0 }

    let byteByByte = parseMultipart(singleBytes(body), boundary: boundary, limits: limits)
    let cut = parseMultipart(chunks(body, at: cutPoints(seed: input.prefix(8), count: body.count)),
                             boundary: boundary, limits: limits)
    for outcome in [whole, byteByByte, cut] { checkMultipart(outcome, boundary: boundary, limits: limits) }

    fuzzCheck(whole.error == byteByByte.error,
              "byte-by-byte feeding changed the error: \(String(describing: whole.error)) vs \(String(describing: byteByByte.error))")
    fuzzCheck(whole.error == cut.error,
              "split feeding changed the error: \(String(describing: whole.error)) vs \(String(describing: cut.error))")
    if whole.error == nil {
        fuzzCheck(whole.events == byteByByte.events, "byte-by-byte feeding changed the events")
        fuzzCheck(whole.events == cut.events, "split feeding changed the events")
    } else {
        // A feed that throws drops the events of that call, so a bigger chunk sees fewer of them.
        fuzzCheck(isPrefix(whole.events, of: byteByByte.events), "whole-feed events are not a prefix of byte-by-byte's")
        fuzzCheck(isPrefix(cut.events, of: byteByByte.events), "split-feed events are not a prefix of byte-by-byte's")
    }
    return 0
}
