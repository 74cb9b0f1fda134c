// libFuzzer entry for HTTPRequestParser. Built by Fuzz/run.sh together with the parser's source files
// (Sources/HTTPServer/Parser, HTTPLimits.swift, Support/HTTPStatus.swift), so no Package.swift target.
//
// Besides crashes and sanitizer reports, it checks one invariant: the events and the error do not
// depend on how the bytes are split (whole, byte by byte, or at input-chosen points).

/// Events with body chunks merged per message, so differently split inputs compare equal.
enum Normalized: Equatable {
    case head(HTTPRequestHead)
    case body([UInt8])
    case end(HTTPHeaders)
}

func run(_ bytes: [UInt8], limits: HTTPLimits, splits: [Int]) -> ([Normalized], HTTPParseError?) {
    var parser = HTTPRequestParser(limits: limits)
    var events: [Normalized] = []
    var offset = 0
    var cuts = splits.filter { $0 > 0 && $0 < bytes.count }.sorted()
    cuts.append(bytes.count)
    do {
        for cut in cuts where cut >= offset {
            parser.append(bytes[offset..<cut])
            offset = cut
            while let event = try parser.next() {
                switch event {
                case .head(let head): events.append(.head(head))
                case .body(let chunk):
                    precondition(!chunk.isEmpty, "empty body event")
                    if case .body(let previous) = events.last {
                        events[events.count - 1] = .body(previous + chunk)
                    } else {
                        events.append(.body(chunk))
                    }
                case .end(let trailers): events.append(.end(trailers))
                }
            }
        }
        try parser.finish()
        return (events, nil)
    } catch {
        return (events, error)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    // The first byte picks small limits sometimes, so the limit paths are reached by short inputs.
    var limits = HTTPLimits()
    if input[0] & 1 == 1 {
        limits.maxRequestLineBytes = 64
        limits.maxHeaderFieldBytes = 48
        limits.maxHeaderSectionBytes = 128
        limits.maxHeaderFieldCount = 4
        limits.maxBodyBytes = 64
        limits.maxChunkSizeDigits = 3
        limits.maxChunkExtensionBytes = 8
        limits.maxTrailerSectionBytes = 32
        limits.maxTrailerFieldCount = 2
    }
    let bytes = Array(input.dropFirst())
    let whole = run(bytes, limits: limits, splits: [])
    let byteByByte = run(bytes, limits: limits, splits: Array(0..<bytes.count))
    let chosen = run(bytes, limits: limits, splits: input.prefix(8).map { Int($0) * 3 })
    precondition(whole == byteByByte, "byte-by-byte feeding changed the outcome")
    precondition(whole == chosen, "split feeding changed the outcome")
    if let error = whole.1 {
        precondition([400, 413, 414, 417, 431, 501, 505].contains(error.status.code), "unexpected status \(error.status)")
    }
    return 0
}
